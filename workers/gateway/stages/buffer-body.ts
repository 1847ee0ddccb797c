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

/** How much of a body a mirrored request may carry when no retry policy sets a larger limit. */
export const MIRROR_BUFFER_LIMIT = 64 * 1024;

/** Timers take a signed 32-bit delay; longer timeouts are cut to ~24 days. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Rejects a read that the deadline overtook; a sentinel, not an Error: it never leaves this stage. */
const BODY_TIMEOUT = Symbol("request body timeout");

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

/**
 * Reads up to `limit` bytes by `deadlineAt` (epoch ms; rejects with BODY_TIMEOUT past it); past the
 * limit, returns a stream that replays what was read, then the rest. `length` is the declared
 * Content-Length, kept on the replayed stream (a stream of unknown length would go out chunked).
 */
export async function bufferUpTo(stream: ReadableStream<Uint8Array>, limit: number, deadlineAt = Infinity, length?: number): Promise<RequestBody> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // One timer for the whole read, cleared when it ends.
  const expired =
    deadlineAt < Infinity
      ? new Promise<never>((_, reject) => (timer = setTimeout(() => reject(BODY_TIMEOUT), Math.min(Math.max(0, deadlineAt - Date.now()), MAX_TIMER_MS))))
      : undefined;
  try {
    while (true) {
      const { done, value } = await (expired ? Promise.race([reader.read(), expired]) : reader.read());
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
      if (size > limit) {
        const rest = replay(chunks, reader);
        return { kind: "stream", stream: length === undefined ? rest : rest.pipeThrough(new FixedLengthStream(length)) };
      }
    }
  } catch (error) {
    // Stop waiting for the client: the request is answered without the rest of its body.
    if (error === BODY_TIMEOUT) reader.cancel().catch(() => undefined);
    throw error;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
  if (size === 0) return { kind: "none" };
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { kind: "buffered", bytes: bytes.buffer };
}

function replay(chunks: Uint8Array[], rest: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async pull(controller) {
      const chunk = chunks.shift();
      if (chunk) return controller.enqueue(chunk);
      const { done, value } = await rest.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => rest.cancel(reason),
  });
}

/** The declared Content-Length, when it is a plain decimal number. */
function contentLength(headers: Headers): number | undefined {
  const value = headers.get("content-length");
  return value !== null && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}
