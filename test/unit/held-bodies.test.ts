/**
 * The isolate's budget for held request bodies (stages/buffer-body.ts) when a request never reaches
 * its response phase (the platform cancelled it: a disconnected client): its hold is freed once its
 * request timeout and a grace of 30 s have passed, as soon as another body needs the room. On a clock
 * the test sets; the budget's ordinary use runs in workerd in test/gateway/request-bodies.test.ts.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Exchange } from "../../workers/gateway/context.ts";
import { bufferBody, heldBodyBytes, ISOLATE_BUFFER_BYTES } from "../../workers/gateway/stages/buffer-body.ts";

afterEach(() => vi.useRealTimers());

const NOW = 1_800_000_000_000;
const MiB16 = 16 * 1024 * 1024;

/** An exchange whose PUT body of `size` bytes may be held (a retry policy with a 16 MiB limit). */
function exchangeWith(size: number, declared = true): Exchange {
  const body = new Response(new Uint8Array(size)).body!;
  return {
    upstream: { method: "PUT", headers: new Headers(declared ? { "content-length": String(size) } : {}), body: { kind: "stream", stream: body } },
    target: { policy: { requestTimeoutMs: 1_000, retry: { numRetries: 1, retryNonIdempotent: true, bufferLimitBytes: MiB16 } } },
    route: { rule: { mirrors: [] } },
    outcome: { startedAt: Date.now() },
  } as unknown as Exchange;
}

describe("held request bodies", () => {
  it("frees the hold of a request that never answered once its deadline and the grace have passed", async () => {
    vi.useFakeTimers({ now: NOW, toFake: ["Date"] });
    const start = heldBodyBytes();
    // Two requests hold 32 MiB less 2 bytes, and never reach their response phase.
    for (const size of [MiB16 - 1, MiB16 - 1]) await bufferBody.request!(exchangeWith(size));
    expect(heldBodyBytes() - start).toBe(ISOLATE_BUFFER_BYTES - 2);
    // (Undeclared: a declared length would be kept with workerd's FixedLengthStream, which Node lacks.)
    const small = exchangeWith(100, false);
    await bufferBody.request!(small);
    expect(small.upstream.body.kind).toBe("stream"); // no room: streamed once
    // Past their 1 s timeout and the 30 s grace: the next body that needs room frees theirs.
    vi.setSystemTime(NOW + 1_000 + 30_001);
    const later = exchangeWith(100);
    await bufferBody.request!(later);
    expect(later.upstream.body.kind).toBe("buffered");
    bufferBody.response!(later, new Response(null));
    expect(heldBodyBytes()).toBe(start);
  });
});
