/**
 * `gateway_secure`: the gateway with identity on, as issue 7 benchmarks it. The benchmarked Backend
 * (`orders`) takes only callers with a mesh identity (peerAuthentication STRICT); the client (wrk)
 * sends a valid workload token in `edgemesh-workload-token`; the gateway attaches the mesh's
 * `edgemesh-caller-token` toward the upstream (the Issuer bound, its key pinned by MESH_ISSUER_KEY).
 * Steady state: the workload token is verified once and then found in the isolate's cache, the
 * caller token comes from the per-(caller, destination) cache, and the Issuer is called about once
 * per half token lifetime, in the background.
 *
 * The key is made fresh per run and pinned, so the client's token can be signed here (the Issuer
 * would sign the same). AUTHORIZATION_POLICIES make `gateway_secure` pay for authorization too: a
 * DENY the request does not match and an ALLOW it does, each with a few rules, as a mesh would have.
 */
import { exportJWK, generateKeyPair, importJWK } from "jose";
import { WORKLOAD_TOKEN_HEADER } from "../common/identity/request-token.ts";
import { pinnedKey } from "../common/identity/private-key.ts";
import { signSvid } from "../common/identity/svid.ts";
import { BENCH_ROUTE, benchPolicies, type BenchOptions } from "./policies.ts";

/** wrangler.toml's MESH_TRUST_DOMAIN: the bench runs with the deployed vars. */
const TRUST_DOMAIN = "edgemesh.local";
export const SECURE_CLIENT = `spiffe://${TRUST_DOMAIN}/ns/default/sa/bench-client`;
const GATEWAY_ID = `spiffe://${TRUST_DOMAIN}/ns/edgemesh/sa/gateway`;
/** Below the verifier's 1 h maximum; a benchmark run is shorter. */
const CLIENT_TOKEN_LIFETIME_S = 55 * 60;

/** Issue 7's target: identity on costs at most this much CPU per request over `gateway`. */
export const MAX_SECURE_CPU_DELTA_US = 10;

const authorization = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: "edgemesh.dev/v1alpha1",
  kind: "AuthorizationPolicy",
  metadata: { name },
  spec: { targetRefs: [{ group: "edgemesh.dev", kind: "Backend", name: "orders" }], ...spec },
});

/** AuthorizationPolicy documents for `orders`: evaluated on every request, both pass it. */
export const AUTHORIZATION_POLICIES: unknown[] = [
  authorization("orders-deny", {
    action: "DENY",
    rules: [
      { from: [{ source: { namespaces: ["untrusted"] } }] },
      { to: [{ operation: { paths: ["/admin*", "*.env"] } }] },
      { when: [{ key: "request.headers[x-debug]", values: ["*"] }] },
    ],
  }),
  authorization("orders-allow", {
    action: "ALLOW",
    rules: [
      { from: [{ source: { principals: [`spiffe://${TRUST_DOMAIN}/ns/default/sa/web`] } }] },
      { from: [{ source: { principals: [`spiffe://${TRUST_DOMAIN}/ns/default/sa/bench-*`] } }], to: [{ operation: { methods: ["GET", "POST"] } }] },
    ],
  }),
];

export interface SecureSetup {
  /** MESH_ISSUER_KEY, for the gateway and the Issuer. */
  issuerKey: string;
  /** What the client sends. */
  headers: Record<string, string>;
}

export async function secureSetup(): Promise<SecureSetup> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const issuerKey = JSON.stringify(await exportJWK(privateKey));
  const { kid, privateJwk } = await pinnedKey(issuerKey);
  const now = Math.floor(Date.now() / 1000);
  // The Issuer's shape (durable-objects/issuer.ts), signed by the same key.
  const signingKey = (await importJWK(privateJwk, "ES256")) as CryptoKey;
  const token = await signSvid(
    { alg: "ES256", kid, signingKey },
    { issuer: `spiffe://${TRUST_DOMAIN}`, subject: SECURE_CLIENT, audience: GATEWAY_ID, issuedAt: now, expiresAt: now + CLIENT_TOKEN_LIFETIME_S },
  );
  return { issuerKey, headers: { [WORKLOAD_TOKEN_HEADER]: token } };
}

/** The bench policies with `orders` STRICT, plus the authorization hook's documents. */
export function securePolicies(upstreamPorts: readonly number[], options: BenchOptions = {}): unknown[] {
  const documents = benchPolicies(upstreamPorts, options).map((document) => {
    const d = document as { kind: string; metadata: { name: string }; spec: Record<string, unknown> };
    return d.kind === "Backend" && d.metadata.name === "orders" ? { ...d, spec: { ...d.spec, peerAuthentication: { mode: "STRICT" } } } : d;
  });
  return [...documents, ...AUTHORIZATION_POLICIES];
}

/**
 * `gateway_bytes`: the bytes identity puts on a hop without any of its logic, the floor of what
 * issue 7 prescribes. The client sends the same workload token (stripped, as every client's copy is,
 * never verified: `orders` is DISABLE, no Issuer bound) and a RequestHeaderModifier sets a header of
 * the caller token's length toward the upstream.
 */
export function bytesPolicies(upstreamPorts: readonly number[], tokenLength: number, options: BenchOptions = {}): unknown[] {
  const filler = { name: "x-bytes-floor", value: "a".repeat(tokenLength) };
  return benchPolicies(upstreamPorts, options).map((document) => {
    const d = document as { kind: string; metadata: { name: string }; spec: Record<string, unknown> };
    if (d.kind === "Backend" && d.metadata.name === "orders") return { ...d, spec: { ...d.spec, peerAuthentication: { mode: "DISABLE" } } };
    if (d.kind !== "HTTPRoute" || d.metadata.name !== BENCH_ROUTE) return d;
    const rules = (d.spec.rules as { filters?: unknown[] }[]).map((rule) => ({ ...rule, filters: [...(rule.filters ?? []), { type: "RequestHeaderModifier", requestHeaderModifier: { set: [filler] } }] }));
    return { ...d, spec: { ...d.spec, rules } };
  });
}
