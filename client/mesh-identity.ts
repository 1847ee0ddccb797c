/**
 * The client module for services behind the mesh, for Node and for Workers (fetch and WebCrypto
 * only): verify that a call came through the mesh, and from whom, in a few lines.
 *
 *   const mesh = meshVerifier({ jwksUrl: "https://gateway.example/.well-known/jwks.json",
 *                               audience: "spiffe://edgemesh.local/ns/default/sa/details",
 *                               trustDomain: "edgemesh.local" });
 *   const result = await mesh.verify(request.headers);    // Headers, or Node's IncomingHttpHeaders
 *   if (!result.ok) return refuse(401, result.reason);      // not through the mesh, or not for us
 *   result.token.subject.id                                 // the caller's SPIFFE ID
 *
 * The mesh's token (`edgemesh-caller-token`) is checked by the same rules the gateway applies
 * (common/identity/verify.ts) and cached until it expires. The JWKS is fetched on first use (until
 * one fetch succeeds, at most once per FIRST_FETCH_RETRY_MS: calls in between are refused at once,
 * so a flood of requests while the gateway is away is not a flood of fetches), again after its
 * `spiffe_refresh_hint` (taken within 1-300 s; in the background, and after a failed refresh not
 * again for REFRESH_RETRY_MS), and on an unknown kid (at most once per 10 s); a failed fetch keeps
 * the last good keys.
 */
import type { TrustBundle } from "../common/identity/bundle.ts";
import { REFUSALS } from "../common/identity/reasons.ts";
import { CALLER_TOKEN_HEADER } from "../common/identity/request-token.ts";
import { MAX_JWKS_BYTES } from "../common/identity/jwk-set.ts";
import { refusal, Verifier, type Verification } from "../common/identity/verify.ts";
import { singleFlight } from "../common/single-flight.ts";
import { withTimeout } from "../common/with-timeout.ts";

export type { Verification } from "../common/identity/verify.ts";
export { CALLER_TOKEN_HEADER, REFUSALS };

export interface MeshVerifierOptions {
  /** The gateway's `/.well-known/jwks.json`. */
  jwksUrl: string;
  /** This service's SPIFFE ID: the mesh addresses its tokens for this service to it. */
  audience: string;
  trustDomain: string;
  /** The issuer name (`iss`); the trust domain's own SPIFFE ID by default. */
  issuer?: string;
  fetch?: typeof fetch;
  /** Bound on one JWKS fetch. */
  fetchTimeoutMs?: number;
  now?: () => number;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

/** A Worker's ExecutionContext: in Workers, background fetches must be handed to the request's waitUntil. */
export type Waiter = { waitUntil(promise: Promise<unknown>): void };

export interface MeshVerifier {
  /**
   * The caller the mesh vouches for in these request headers, or why not. In a Worker, pass the
   * request's `ctx`: a background JWKS refresh is then kept alive by its waitUntil (a fetch the
   * request does not wait for is otherwise cancelled with it).
   */
  verify(headers: HeaderSource, waiter?: Waiter): Promise<Verification>;
  /** Fetches the JWKS now (for a warm start); whether a bundle is in hand. */
  refresh(): Promise<boolean>;
}

/** While no JWKS has been fetched yet, how long after a failed fetch the next call may try again. */
export const FIRST_FETCH_RETRY_MS = 1_000;
/** Once keys are in hand, how long after a failed refresh the next may start. */
export const REFRESH_RETRY_MS = 10_000;
/** The refresh hint is taken within these bounds: the gateway's bundle caches for at most 300 s, so a revoked key leaves as soon. */
const REFRESH_HINT_MS = { min: 1_000, max: 300_000 };

export function meshVerifier(options: MeshVerifierOptions): MeshVerifier {
  const now = options.now ?? Date.now;
  const doFetch = options.fetch ?? fetch;
  let fetchedAt = -Infinity;
  let attemptedAt = -Infinity;
  let refreshHintMs = 300_000;
  // A wait on a fetch another request started is bounded too: in Workers that fetch may be cancelled with its request.
  const waitBound = (options.fetchTimeoutMs ?? 2_000) + 1_000;
  const loading = singleFlight(async () => {
    attemptedAt = now();
    try {
      const response = await doFetch(options.jwksUrl, { signal: AbortSignal.timeout(options.fetchTimeoutMs ?? 2_000) });
      if (!response.ok) throw new Error(`JWKS answered ${response.status}`);
      const text = await response.text();
      if (text.length > MAX_JWKS_BYTES) throw new Error(`the JWKS is over ${MAX_JWKS_BYTES} bytes`);
      const bundle = JSON.parse(text) as TrustBundle;
      if (!Array.isArray(bundle?.keys) || typeof bundle.spiffe_sequence !== "number") throw new Error("not a SPIFFE JWKS");
      verifier.keys.update(bundle);
      fetchedAt = now();
      const hint = bundle.spiffe_refresh_hint;
      if (typeof hint === "number" && hint > 0) refreshHintMs = Math.min(REFRESH_HINT_MS.max, Math.max(REFRESH_HINT_MS.min, hint * 1000));
    } catch (error) {
      // The last good keys stay; the next verify or unknown kid tries again (REFRESH_RETRY_MS on).
      console.error(JSON.stringify({ level: "warn", message: "mesh JWKS fetch failed; keeping the last good keys", error: String(error) }));
    }
  }, waitBound);
  const load = () => withTimeout(loading.run(), waitBound).catch(() => undefined);
  const verifier = new Verifier({
    issuer: options.issuer ?? `spiffe://${options.trustDomain}`,
    audience: options.audience,
    trustDomain: options.trustDomain,
    refresh: load,
    now,
  });
  return {
    async verify(headers, waiter) {
      const value = headers instanceof Headers ? headers.get(CALLER_TOKEN_HEADER) : headers[CALLER_TOKEN_HEADER];
      if (value === undefined || value === null) return refusal("missing_token");
      if (Array.isArray(value) || value.includes(",")) return refusal("multiple_tokens");
      const cached = verifier.cached(value);
      if (cached) return cached;
      if (fetchedAt === -Infinity) {
        // No keys yet: wait for the fetch under way, or start one if the last failed long enough ago.
        if (loading.running || now() - attemptedAt >= FIRST_FETCH_RETRY_MS) await load();
        if (fetchedAt === -Infinity) return refusal("no_jwks", "the mesh's JWKS could not be fetched yet");
      } else if (now() - fetchedAt >= refreshHintMs && now() - attemptedAt >= REFRESH_RETRY_MS) {
        const refreshing = load();
        waiter?.waitUntil(refreshing);
      }
      return verifier.verify(value);
    },
    async refresh() {
      await load();
      return fetchedAt !== -Infinity;
    },
  };
}
