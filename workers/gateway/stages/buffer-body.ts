/**
 * Buffers the request body when it may have to be sent more than once (retries, mirroring), up to a
 * limit; a larger body streams through once, and is then neither retried nor mirrored. Reading it
 * counts against the request timeout, which runs from the request's arrival: a client that stops
 * sending gets 408 request_body_timeout within it (Envoy's answer to a request timeout hit while the
 * downstream body is still arriving), not a request that never ends.
 *
 * Bodies held at once in an isolate share ISOLATE_BUFFER_BYTES (an isolate has 128 MB in all, and a
 * policy may allow 16 MiB a request), counted as their bytes arrive (a client that declares much and
 * sends little holds little): a body that would take more, or whose Content-Length is over its limit
 * already, streams through once instead, as a larger body does. What a request read stays held until
 * its answer leaves the gateway.
 */
import { retriesMethod } from "../attempt/retry.ts";
import type { Exchange, RequestBody, Stage } from "../context.ts";
import { MeshError } from "../errors.ts";
import { BODY_TIMEOUT, bufferUpTo } from "../bounded-body.ts";
import { endOf, Slots } from "../attempt/slots.ts";

/** How much of a body a mirrored request may carry when no retry policy sets a larger limit. */
export const MIRROR_BUFFER_LIMIT = 64 * 1024;

/** Bytes of request bodies one isolate holds at once for retries and mirrors. */
export const ISOLATE_BUFFER_BYTES = 32 * 1024 * 1024;
let heldBytes = 0;
/** What this isolate's requests hold of ISOLATE_BUFFER_BYTES now (/admin/status). */
export const heldBodyBytes = () => heldBytes;
interface Hold {
  bytes: number;
  /** Its slot in `ends`: a cancelled request (a disconnected client) never gives its hold back, so holds expire as the circuit breaker's slots do. */
  slot: number;
}
/** What each buffering exchange holds of ISOLATE_BUFFER_BYTES, until its response phase gives it back. */
const held = new WeakMap<Exchange, Hold>();
const holds = new Map<number, Hold>();
const ends = new Slots();

export const bufferBody: Stage = {
  request(x) {
    const upstream = x.upstream;
    if (upstream.body.kind !== "stream") return undefined;
    const { retry } = x.target.policy;
    const limit = Math.max(retriesMethod(retry, upstream.method) ? retry.bufferLimitBytes : 0, x.route.rule.mirrors.length ? MIRROR_BUFFER_LIMIT : 0);
    if (limit === 0) return undefined;
    const declared = contentLength(upstream.headers);
    if (declared !== undefined && declared > limit) return undefined;
    const startedAt = x.outcome.startedAt;
    const hold: Hold = { bytes: 0, slot: ends.take(endOf(startedAt + x.target.policy.requestTimeoutMs, startedAt)) };
    held.set(x, hold);
    holds.set(hold.slot, hold);
    const take = (bytes: number) => {
      if (heldBytes + bytes > ISOLATE_BUFFER_BYTES) ends.sweep(Date.now(), freeSlot);
      if (heldBytes + bytes > ISOLATE_BUFFER_BYTES) return false;
      heldBytes += bytes;
      hold.bytes += bytes;
      return true;
    };
    return buffer(x, upstream.body.stream, limit, declared, take);
  },
  response(x) {
    release(x);
  },
};

function release(x: Exchange): void {
  const hold = held.get(x);
  if (hold === undefined) return;
  held.delete(x);
  free(hold);
}

function free(hold: Hold): void {
  holds.delete(hold.slot);
  ends.give(hold.slot);
  heldBytes -= hold.bytes;
  hold.bytes = 0;
}

/** Frees the hold of a request past its deadline and grace: only a request the platform cancelled keeps one that long. */
function freeSlot(slot: number): void {
  const hold = holds.get(slot);
  if (hold) free(hold);
}

async function buffer(x: Exchange, stream: ReadableStream<Uint8Array>, limit: number, declared: number | undefined, take: (bytes: number) => boolean): Promise<undefined> {
  const { requestTimeoutMs } = x.target.policy;
  try {
    const deadlineAt = x.outcome.startedAt + requestTimeoutMs;
    x.upstream.body = await bufferUpTo(stream, limit, deadlineAt, declared, take);
  } catch (cause) {
    // This stage's response phase does not run for a request it ends.
    release(x);
    if (cause === BODY_TIMEOUT) {
      throw new MeshError("request_body_timeout", `the request body did not arrive within the request timeout (${requestTimeoutMs} ms)`);
    }
    throw new MeshError("invalid_request", "the request body could not be read (the client stopped sending it)", { cause });
  }
  return undefined;
}

/** The declared Content-Length, when it is a plain decimal number. */
function contentLength(headers: Headers): number | undefined {
  const value = headers.get("content-length");
  return value !== null && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}
