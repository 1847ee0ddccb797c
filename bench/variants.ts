/**
 * What a bench/ab.ts or bench/instructions.ts argument names, in one place:
 *   gateway            the gateway as the working tree builds it
 *   gateway_issuer     the same with the Issuer bound (pinned key), as `wrangler deploy` ships it:
 *                      every proxied request carries a cached caller token upstream; the client is
 *                      anonymous, the Backend PERMISSIVE, no AuthorizationPolicy (gateway_secure minus
 *                      authentication and authorization: what splits identity's cost in two)
 *   gateway_secure     identity on (bench/secure.ts): STRICT on the benchmarked Backend, the client
 *                      sending a workload token, the Issuer bound, two AuthorizationPolicies
 *   gateway_secure:<bundle.js>  a gateway build run as gateway_secure is
 *   gateway_bytes      identity's bytes without its logic (bench/secure.ts bytesPolicies): the
 *                      client's token sent and stripped, a header of a caller token's length set
 *                      toward the upstream, no verification, no Issuer, no authorization
 *   gateway_observed[:<ratio>]  observability on (bench/observed.ts), traces sampled at <ratio>
 *   peer, peer:<bundle.js>      the peer (workers/peer), from the working tree or a build
 *   <bundle.js>        a gateway build (`npx wrangler deploy --dry-run --outdir <dir>`)
 */
import { resolve } from "node:path";
import type { Bundle } from "./workerd.ts";

export const COMPATIBILITY_DATE = "2026-04-20";

export interface Variant {
  kind: "gateway" | "peer";
  bundle: Bundle;
  /** The Issuer (and its pinned key) bound: caller tokens toward upstreams. */
  issuer?: boolean;
  /** STRICT, the client's workload token and the AuthorizationPolicies (implies issuer). */
  secure?: boolean;
  /** gateway_bytes: the client's token and a caller-token-sized header, no identity logic. */
  bytes?: boolean;
  observed?: boolean;
  sampleRatio?: string;
}

export interface Builds {
  gateway: () => Promise<Bundle>;
  peer: () => Promise<Bundle>;
}

const built = (file: string): Bundle => ({ script: resolve(file), compatibilityDate: COMPATIBILITY_DATE });

export async function parseVariant(arg: string, builds: Builds): Promise<Variant> {
  if (arg === "gateway") return { kind: "gateway", bundle: await builds.gateway() };
  if (arg === "gateway_issuer") return { kind: "gateway", issuer: true, bundle: await builds.gateway() };
  if (arg === "gateway_secure") return { kind: "gateway", issuer: true, secure: true, bundle: await builds.gateway() };
  if (arg.startsWith("gateway_secure:")) return { kind: "gateway", issuer: true, secure: true, bundle: built(arg.slice("gateway_secure:".length)) };
  if (arg === "gateway_bytes") return { kind: "gateway", bytes: true, bundle: await builds.gateway() };
  if (arg === "gateway_observed") return { kind: "gateway", observed: true, bundle: await builds.gateway() };
  if (arg.startsWith("gateway_observed:")) {
    const sampleRatio = arg.slice("gateway_observed:".length);
    if (!/^(0|1|0?\.[0-9]+)$/.test(sampleRatio)) throw new Error(`${arg}: the ratio must be a number from 0 to 1`);
    return { kind: "gateway", observed: true, sampleRatio, bundle: await builds.gateway() };
  }
  if (arg === "peer") return { kind: "peer", bundle: await builds.peer() };
  if (arg.startsWith("peer:")) return { kind: "peer", bundle: built(arg.slice("peer:".length)) };
  if (/^[a-z_]+$/.test(arg)) throw new Error(`${arg}: not a variant (gateway, gateway_issuer, gateway_secure, gateway_bytes, gateway_observed, peer, or a bundle's path)`);
  return { kind: "gateway", bundle: built(arg) };
}
