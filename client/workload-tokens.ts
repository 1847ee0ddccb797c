/**
 * The client module's other half, for HTTP origins calling through the mesh (Node or Workers):
 * exchanges the origin's bootstrap credential at the gateway (`POST /edgemesh/token`) for a workload
 * token, caches it, and renews it before it expires: in the background once half its life has
 * passed, and waiting only when none is valid (the first call, or after renewals kept failing).
 *
 *   const identity = workloadTokens({ gatewayUrl: "https://gateway.example",
 *     spiffeId: "spiffe://edgemesh.local/ns/default/sa/reviews", credential: process.env.MESH_CREDENTIAL! });
 *   await fetch("https://gateway.example/ratings/1", { headers: { host: "ratings.mesh", ...(await identity.headers()) } });
 */
import { WORKLOAD_TOKEN_HEADER } from "../common/identity/request-token.ts";

export { WORKLOAD_TOKEN_HEADER };

export interface WorkloadTokenOptions {
  /** The gateway's origin, e.g. "https://gateway.example". */
  gatewayUrl: string;
  spiffeId: string;
  /** The bootstrap credential the operator gave this service. */
  credential: string;
  fetch?: typeof fetch;
  fetchTimeoutMs?: number;
  now?: () => number;
}

export interface WorkloadTokens {
  /** A token valid now (exchanging first if none is). */
  token(): Promise<string>;
  /** `{ "edgemesh-workload-token": token }`, to spread into a request's headers. */
  headers(): Promise<Record<string, string>>;
}

/** Not sent this close to expiry: the gateway's clock may be ahead. */
const EXPIRY_MARGIN_MS = 30_000;

export function workloadTokens(options: WorkloadTokenOptions): WorkloadTokens {
  const now = options.now ?? Date.now;
  const doFetch = options.fetch ?? fetch;
  let current: { token: string; expiresAt: number; renewAt: number } | undefined;
  let exchanging: Promise<string> | undefined;

  const exchange = () =>
    (exchanging ??= (async () => {
      try {
        const response = await doFetch(new URL("/edgemesh/token", options.gatewayUrl), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ spiffeId: options.spiffeId, credential: options.credential }),
          signal: AbortSignal.timeout(options.fetchTimeoutMs ?? 5_000),
        });
        const body = (await response.json()) as { token?: string; expiresAt?: number; error?: { message?: string } };
        if (!response.ok || typeof body.token !== "string" || typeof body.expiresAt !== "number") {
          throw new Error(`token exchange refused (${response.status}): ${body.error?.message ?? "no token in the answer"}`);
        }
        const at = now();
        current = { token: body.token, expiresAt: body.expiresAt, renewAt: at + (body.expiresAt - at) / 2 };
        return body.token;
      } finally {
        exchanging = undefined;
      }
    })());

  const token = async () => {
    const at = now();
    if (current && at < current.expiresAt - EXPIRY_MARGIN_MS) {
      // Renewed in the background; until it lands (or if it fails) the current one serves.
      if (at >= current.renewAt && !exchanging) exchange().catch(() => undefined);
      return current.token;
    }
    return exchange();
  };
  return { token, headers: async () => ({ [WORKLOAD_TOKEN_HEADER]: await token() }) };
}
