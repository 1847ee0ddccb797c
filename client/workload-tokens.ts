/**
 * The client module's other half, for HTTP origins calling through the mesh (Node or Workers):
 * exchanges the origin's bootstrap credential at the gateway (`POST /edgemesh/token`) for a workload
 * token, caches it, and renews it before it expires: in the background once half its life has
 * passed (after a failed renewal, again RETRY_AFTER_MS later), and waiting only when none is valid
 * (the first call, or after renewals kept failing; a token past its margin but not expired is still
 * sent if that exchange fails; with none, a failed exchange answers the calls of the next
 * FAILED_EXCHANGE_HOLD_MS). Times are measured on this machine's clock from the token's own
 * lifetime, so a clock set apart from the gateway's neither withholds a valid token nor keeps one too long.
 *
 *   const identity = workloadTokens({ gatewayUrl: "https://gateway.example",
 *     spiffeId: "spiffe://edgemesh.local/ns/default/sa/reviews", credential: process.env.MESH_CREDENTIAL! });
 *   await fetch("https://gateway.example/ratings/1", { headers: { host: "ratings.mesh", ...(await identity.headers()) } });
 */
import { decodeJwt } from "jose";
import { WORKLOAD_TOKEN_HEADER } from "../common/identity/request-token.ts";
import { singleFlight } from "../common/single-flight.ts";
import { withTimeout } from "../common/with-timeout.ts";

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

/** A Worker's ExecutionContext: in Workers, a background renewal must be handed to the request's waitUntil. */
export type Waiter = { waitUntil(promise: Promise<unknown>): void };

export interface WorkloadTokens {
  /** A token valid now (exchanging first if none is). In a Worker, pass the request's `ctx` (see Waiter). */
  token(waiter?: Waiter): Promise<string>;
  /** `{ "edgemesh-workload-token": token }`, to spread into a request's headers. */
  headers(waiter?: Waiter): Promise<Record<string, string>>;
}

/** Not sent this close to expiry (at most a quarter of the lifetime): the gateway's clock may be ahead. */
const EXPIRY_MARGIN_MS = 30_000;
/** After a failed background renewal, the next is tried this much later, not on every call. */
export const RETRY_AFTER_MS = 10_000;
/** With no token to send, after a failed exchange: calls within this long get its error without another. */
export const FAILED_EXCHANGE_HOLD_MS = 1_000;

interface Held {
  token: string;
  /** This machine's clock: when it expires, when it is no longer sent, when renewal starts. */
  expiresAt: number;
  sendUntil: number;
  renewAt: number;
}

export function workloadTokens(options: WorkloadTokenOptions): WorkloadTokens {
  const now = options.now ?? Date.now;
  const doFetch = options.fetch ?? fetch;
  let current: Held | undefined;
  let retryAt = -Infinity;
  let failed: { at: number; error: unknown } | undefined;

  // A wait on an exchange another request started is bounded too: in Workers it may be cancelled with its request.
  const waitBound = (options.fetchTimeoutMs ?? 5_000) + 1_000;
  const exchange = singleFlight(async () => {
    const response = await doFetch(new URL("/edgemesh/token", options.gatewayUrl), {
      method: "POST",
      // Never on to wherever a redirect points: the body is the credential. A 3xx is a failed exchange.
      redirect: "manual",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ spiffeId: options.spiffeId, credential: options.credential }),
      signal: AbortSignal.timeout(options.fetchTimeoutMs ?? 5_000),
    });
    const text = await response.text();
    let body: { token?: unknown; expiresAt?: unknown; error?: { message?: unknown } } = {};
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page, say): the status says what happened.
    }
    if (!response.ok || typeof body.token !== "string" || typeof body.expiresAt !== "number") {
      const why = typeof body.error?.message === "string" ? body.error.message : response.ok ? "no token in the answer" : "the answer is not the gateway's";
      throw new Error(`token exchange refused (${response.status}): ${why}`);
    }
    const at = now();
    current = held(body.token, at, body.expiresAt);
    return body.token;
  }, waitBound);

  const renewInBackground = () =>
    exchange.run().catch((error) => {
      retryAt = now() + RETRY_AFTER_MS;
      console.error(JSON.stringify({ level: "warn", message: "workload token renewal failed; the current token serves until it expires", error: String(error) }));
    });

  const token = async (waiter?: Waiter) => {
    const at = now();
    if (current && at < current.sendUntil) {
      // Renewed in the background; until it lands (or if it fails) the current one serves.
      if (at >= current.renewAt && at >= retryAt && !exchange.running) {
        const renewing = renewInBackground();
        waiter?.waitUntil(renewing);
      }
      return current.token;
    }
    // A gateway that is away is asked once per FAILED_EXCHANGE_HOLD_MS, not once per call.
    if (failed && at - failed.at < FAILED_EXCHANGE_HOLD_MS && !exchange.running) {
      if (current && at < current.expiresAt) return current.token;
      throw failed.error;
    }
    try {
      const issued = await withTimeout(exchange.run(), waitBound);
      failed = undefined;
      return issued;
    } catch (error) {
      failed = { at: now(), error };
      // Within its margin but not expired, the old token is still better than none.
      if (current && now() < current.expiresAt) return current.token;
      throw error;
    }
  };
  return { token, headers: async (waiter?: Waiter) => ({ [WORKLOAD_TOKEN_HEADER]: await token(waiter) }) };
}

/** A token's times on this machine's clock, from its lifetime (exp - iat); the gateway's expiresAt when the token says none. */
function held(token: string, at: number, gatewayExpiresAt: number): Held {
  let lifetimeMs = gatewayExpiresAt - at;
  try {
    const { iat, exp } = decodeJwt(token);
    if (typeof iat === "number" && typeof exp === "number" && exp > iat) lifetimeMs = (exp - iat) * 1000;
  } catch {
    // Not a JWT the client can read: the gateway's figure stands.
  }
  const margin = Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 4);
  return { token, expiresAt: at + lifetimeMs, sendUntil: at + lifetimeMs - margin, renewAt: at + lifetimeMs / 2 };
}
