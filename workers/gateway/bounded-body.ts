/**
 * Reading a request body with bounds on its size and its time: what buffer-body.ts keeps for
 * retries and mirrors, and what the token exchange reads (identity/token-exchange.ts). A client
 * decides how much it sends and how slowly, so no body is read without both bounds.
 */
import type { RequestBody } from "./context.ts";

/** Timers take a signed 32-bit delay; longer timeouts are cut to ~24 days. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Rejects a read that the deadline overtook; a sentinel, not an Error: callers turn it into their answer. */
export const BODY_TIMEOUT = Symbol("request body timeout");

/**
 * Reads up to `limit` bytes by `deadlineAt` (epoch ms; rejects with BODY_TIMEOUT past it); past the
 * limit, or when `take` refuses a chunk's bytes (a budget shared with other requests), returns a
 * stream that replays what was read, then the rest. `length` is the declared Content-Length, kept on
 * the replayed stream (a stream of unknown length would go out chunked).
 */
export async function bufferUpTo(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  deadlineAt = Infinity,
  length?: number,
  take: (bytes: number) => boolean = () => true,
): Promise<RequestBody> {
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
      if (size > limit || !take(value.byteLength)) {
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
