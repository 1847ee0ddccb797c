/**
 * Buffers the request body when it may have to be sent more than once (retries, mirroring), up to a
 * limit; a larger body streams through once, and is then neither retried nor mirrored. Reading it
 * counts against the request timeout, which runs from the request's arrival: a client that stops
 * sending gets 408 request_body_timeout within it (Envoy's answer to a request timeout hit while the
 * downstream body is still arriving), not a request that never ends.
 */
import { retriesMethod } from "../attempt/retry.ts";
import type { Exchange, RequestBody, Stage } from "../context.ts";
import { MeshError } from "../errors.ts";
import { BODY_TIMEOUT, bufferUpTo } from "../bounded-body.ts";

/** How much of a body a mirrored request may carry when no retry policy sets a larger limit. */
export const MIRROR_BUFFER_LIMIT = 64 * 1024;

export const bufferBody: Stage = {
  request(x) {
    const upstream = x.upstream;
    if (upstream.body.kind !== "stream") return undefined;
    const { retry } = x.target.policy;
    const limit = Math.max(retriesMethod(retry, upstream.method) ? retry.bufferLimitBytes : 0, x.route.rule.mirrors.length ? MIRROR_BUFFER_LIMIT : 0);
    return limit > 0 ? buffer(x, upstream.body.stream, limit) : undefined;
  },
};

async function buffer(x: Exchange, stream: ReadableStream<Uint8Array>, limit: number): Promise<undefined> {
  const { requestTimeoutMs } = x.target.policy;
  try {
    const deadlineAt = x.outcome.startedAt + requestTimeoutMs;
    x.upstream.body = await bufferUpTo(stream, limit, deadlineAt, contentLength(x.upstream.headers));
  } catch (cause) {
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
