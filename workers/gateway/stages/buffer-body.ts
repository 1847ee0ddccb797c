/**
 * Buffers the request body when it may have to be sent more than once (retries, mirroring), up to a
 * limit; a larger body streams through once, and is then neither retried nor mirrored.
 */
import { createMiddleware } from "hono/factory";
import { retriesMethod } from "../attempt/retry.ts";
import type { MeshEnv, RequestBody } from "../context.ts";
import { MeshError } from "../errors.ts";

/** How much of a body a mirrored request may carry when no retry policy sets a larger limit. */
export const MIRROR_BUFFER_LIMIT = 64 * 1024;

export const bufferBody = () =>
  createMiddleware<MeshEnv>(async function bufferBody(c, next) {
    const upstream = c.get("upstream");
    if (upstream.body.kind === "stream") {
      const retry = c.get("target").policy.retry;
      const limit = Math.max(retriesMethod(retry, upstream.method) ? retry.bufferLimitBytes : 0, c.get("route").rule.mirrors.length ? MIRROR_BUFFER_LIMIT : 0);
      if (limit > 0) {
        try {
          upstream.body = await bufferUpTo(upstream.body.stream, limit);
        } catch (cause) {
          throw new MeshError("invalid_request", "the request body could not be read (the client stopped sending it)", { cause });
        }
      }
    }
    await next();
  });

/** Reads up to `limit` bytes; past it, returns a stream that replays what was read, then the rest. */
export async function bufferUpTo(stream: ReadableStream<Uint8Array>, limit: number): Promise<RequestBody> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > limit) return { kind: "stream", stream: replay(chunks, reader) };
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
