/**
 * What an isolate knows about identity: the last good trust bundle, which reaches it through the
 * configuration snapshot (TableSource hands it over; nothing fetches it per request), and the
 * verifier of tokens sent to the mesh (audience: the gateway's own SPIFFE ID), with its cache.
 *
 * A bundle replaces the keys only when its spiffe_sequence is higher; a failed or older read keeps
 * the last good keys, so a control plane that is away never makes the mesh refuse valid tokens
 * (Istio and Envoy deny everything when a JWKS fetch fails). An unknown kid asks the Issuer for its
 * bundle at most once per MESH_KID_REFRESH_INTERVAL_MS (10 s), waiting at most REFRESH_WAIT_MS, and
 * logs each call ("trust bundle refreshed"); with no Issuer bound but a pinned MESH_ISSUER_KEY (a
 * bare local run), the pinned key's public part is the bundle.
 */
import type { TrustBundle } from "../../../common/identity/bundle.ts";
import { identityConfig, type IdentityConfig } from "../../../common/identity/config.ts";
import { pinnedBundle } from "../../../common/identity/private-key.ts";
import { Verifier } from "../../../common/identity/verify.ts";
import { parseSpiffeId } from "../../../common/identity/spiffe-id.ts";
import { LruMap } from "../../../common/lru.ts";
import { issuerOf } from "../../../common/protocol.ts";
import type { GatewayEnv } from "../env.ts";
import { withTimeout } from "../../../common/with-timeout.ts";
import { UpstreamTokens } from "./upstream-tokens.ts";

/** The longest a request with an unknown kid waits for the Issuer's bundle. */
const REFRESH_WAIT_MS = 300;

export class MeshIdentity {
  private bundle: TrustBundle | undefined;
  private verifier: Verifier | undefined;
  private settings: IdentityConfig | undefined;
  /** "namespace/service" → SPIFFE ID, for callers identified by their binding's props. */
  private readonly bindings = new LruMap<string, string | "invalid">(1_000);
  /** Backend name ("details", "shop/details") → its SPIFFE ID. */
  private readonly destinations = new LruMap<string, string>(10_000);
  /** Mesh-signed tokens toward upstreams, per (caller, destination). */
  readonly upstreamTokens = new UpstreamTokens(() => this.bundle);

  /** A bundle from the snapshot or the Issuer; an older or equal one is ignored. Whether it was taken. */
  takeBundle(bundle: TrustBundle): boolean {
    if (this.bundle && bundle.spiffe_sequence <= this.bundle.spiffe_sequence) return false;
    this.bundle = bundle;
    this.verifier?.keys.update(bundle);
    return true;
  }

  /** The last good bundle, for /.well-known/jwks.json. */
  currentBundle(): TrustBundle | undefined {
    return this.bundle;
  }

  config(env: GatewayEnv): IdentityConfig {
    return (this.settings ??= identityConfig(env));
  }

  /** The verifier of tokens addressed to the mesh; made on first use (the env comes with the first request). */
  verifierFor(env: GatewayEnv): Verifier {
    if (this.verifier) return this.verifier;
    const { issuer, gatewayId, trustDomain, kidRefreshIntervalMs } = this.config(env);
    const verifier = new Verifier({ issuer, audience: gatewayId, trustDomain, refresh: () => this.refresh(env), refreshIntervalMs: kidRefreshIntervalMs });
    if (this.bundle) verifier.keys.update(this.bundle);
    return (this.verifier = verifier);
  }

  /**
   * The identity a caller's service binding gives it: `props = { service, namespace? }` (namespace
   * "default" when left out) → spiffe://<trust-domain>/ns/<namespace>/sa/<service>. Undefined when the
   * binding carries none (a request from outside, or a binding without props); "invalid" when the
   * props name one that is no valid SPIFFE ID (a deploy mistake: refused, never ignored).
   */
  bindingIdentity(env: GatewayEnv, props: unknown): string | "invalid" | undefined {
    if (typeof props !== "object" || props === null || !("service" in props)) return undefined;
    const { service, namespace = "default" } = props as { service: unknown; namespace?: unknown };
    if (typeof service !== "string" || typeof namespace !== "string") return "invalid";
    const key = `${namespace}/${service}`;
    let id = this.bindings.get(key);
    if (id === undefined) {
      const candidate = `spiffe://${this.config(env).trustDomain}/ns/${namespace}/sa/${service}`;
      id = parseSpiffeId(candidate) ? candidate : "invalid";
      this.bindings.set(key, id);
    }
    return id;
  }

  /** A backend's SPIFFE ID: spiffe://<trust-domain>/ns/<namespace>/sa/<name>. */
  destinationId(env: GatewayEnv, backend: string): string {
    let id = this.destinations.get(backend);
    if (id === undefined) {
      const slash = backend.indexOf("/");
      const [namespace, name] = slash < 0 ? ["default", backend] : [backend.slice(0, slash), backend.slice(slash + 1)];
      this.destinations.set(backend, (id = `spiffe://${this.config(env).trustDomain}/ns/${namespace}/sa/${name}`));
    }
    return id;
  }

  /** The bundle straight from its source, bounded; keeps the last good one on any failure. */
  async refresh(env: GatewayEnv): Promise<void> {
    try {
      if (env.ISSUER) {
        const bundle = await withTimeout(issuerOf(env.ISSUER).bundle(), REFRESH_WAIT_MS);
        const changed = this.takeBundle(bundle);
        // Every call to the Issuer, so a flood of made-up kids shows as what it costs: one line per interval.
        console.log(JSON.stringify({ level: "info", message: "trust bundle refreshed", sequence: bundle.spiffe_sequence, changed, keys: bundle.keys.length }));
      } else if (env.MESH_ISSUER_KEY && !this.bundle) this.takeBundle(await pinnedBundle(env.MESH_ISSUER_KEY));
    } catch (error) {
      console.error(JSON.stringify({ level: "warn", message: "trust bundle refresh failed; keeping the last good keys", error: String(error) }));
    }
  }
}
