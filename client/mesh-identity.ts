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
 * `spiffe_refresh_hint` (in the background), and on an unknown kid (at most once per 10 s); a failed
 * fetch keeps the last good keys.
 */
import type { TrustBundle } from "../common/identity/bundle.ts";
import { REFUSALS } from "../common/identity/reasons.ts";
import { CALLER_TOKEN_HEADER } from "../common/identity/request-token.ts";
import { refusal, Verifier, type Verification } from "../common/identity/verify.ts";

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

export interface MeshVerifier {
  /** The caller the mesh vouches for in these request headers, or why not. */
  verify(headers: HeaderSource): Promise<Verification>;
  /** Fetches the JWKS now (for a warm start); whether a bundle is in hand. */
  refresh(): Promise<boolean>;
}

/** While no JWKS has been fetched yet, how long after a failed fetch the next call may try again. */
export const FIRST_FETCH_RETRY_MS = 1_000;

export function meshVerifier(options: MeshVerifierOptions): MeshVerifier {
  const now = options.now ?? Date.now;
  const doFetch = options.fetch ?? fetch;
  let fetchedAt = -Infinity;
  let attemptedAt = -Infinity;
  let refreshHintMs = 300_000;
  let loading: Promise<void> | undefined;
  const load = () =>
    (loading ??= (async () => {
      attemptedAt = now();
      try {
        const response = await doFetch(options.jwksUrl, { signal: AbortSignal.timeout(options.fetchTimeoutMs ?? 2_000) });
        if (!response.ok) throw new Error(`JWKS answered ${response.status}`);
        const bundle = (await response.json()) as TrustBundle;
        if (!Array.isArray(bundle?.keys) || typeof bundle.spiffe_sequence !== "number") throw new Error("not a SPIFFE JWKS");
        verifier.keys.update(bundle);
        fetchedAt = now();
        if (typeof bundle.spiffe_refresh_hint === "number" && bundle.spiffe_refresh_hint > 0) refreshHintMs = bundle.spiffe_refresh_hint * 1000;
      } catch (error) {
        // The last good keys stay; the next verify or unknown kid tries again.
        console.error(JSON.stringify({ level: "warn", message: "mesh JWKS fetch failed; keeping the last good keys", error: String(error) }));
      } finally {
        loading = undefined;
      }
    })());
  const verifier = new Verifier({
    issuer: options.issuer ?? `spiffe://${options.trustDomain}`,
    audience: options.audience,
    trustDomain: options.trustDomain,
    refresh: load,
    now,
  });
  return {
    async verify(headers) {
      const value = headers instanceof Headers ? headers.get(CALLER_TOKEN_HEADER) : headers[CALLER_TOKEN_HEADER];
      if (value === undefined || value === null) return refusal("missing_token");
      if (Array.isArray(value) || value.includes(",")) return refusal("multiple_tokens");
      const cached = verifier.cached(value);
      if (cached) return cached;
      if (fetchedAt === -Infinity) {
        // No keys yet: wait for the fetch under way, or start one if the last failed long enough ago.
        if (loading || now() - attemptedAt >= FIRST_FETCH_RETRY_MS) await load();
        if (fetchedAt === -Infinity) return refusal("unknown_kid", "the mesh's JWKS could not be fetched yet");
      } else if (now() - fetchedAt >= refreshHintMs) void load();
      return verifier.verify(value);
    },
    async refresh() {
      await load();
      return fetchedAt !== -Infinity;
    },
  };
}
