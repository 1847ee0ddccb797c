/**
 * The circuit breaker's slots (attempt/slots.ts): an attempt whose work never resumes (the platform
 * cancels a disconnected client's request: no finally block runs) holds its slot until its deadline
 * and a grace of 30 s (its per-try timeout when it has no request timeout, 10 minutes when it has
 * neither), then the next request that finds the limit reached drops it. On a clock the test sets.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { concurrencyLimit } from "../../workers/gateway/attempt/limits.ts";
import { Slots } from "../../workers/gateway/attempt/slots.ts";
import type { CallContext } from "../../workers/gateway/attempt/call.ts";
import { MeshError } from "../../workers/gateway/errors.ts";

afterEach(() => vi.useRealTimers());

const NOW = 1_800_000_000_000;

describe("the circuit breaker's slots", () => {
  it("drop an attempt that never ended once its deadline and the grace have passed, and only then", async () => {
    vi.useFakeTimers({ now: NOW, toFake: ["Date"] });
    const slots = new Slots();
    const backend = { name: "b", maxParallelRequests: 1, state: { inFlight: slots } };
    const call = (deadlineAt: number) => ({ target: { backend, policy: {} }, deadlineAt }) as unknown as CallContext;
    // The cancelled request: its attempt never settles.
    const stuck = concurrencyLimit(() => new Promise<Response>(() => undefined));
    void stuck(call(NOW + 1_000));
    const answered = concurrencyLimit(async () => new Response("ok"));
    await expect(answered(call(NOW + 1_000))).rejects.toMatchObject({ reason: "overflow" } satisfies Partial<MeshError>);
    vi.setSystemTime(NOW + 1_000 + 29_000);
    await expect(answered(call(NOW + 40_000))).rejects.toMatchObject({ reason: "overflow" });
    vi.setSystemTime(NOW + 1_000 + 30_001);
    expect((await answered(call(NOW + 40_000))).status).toBe(200);
    expect(slots.size).toBe(0);
  });

  it("bound an attempt without a request timeout by its per-try timeout, and one without either by 10 minutes", async () => {
    vi.useFakeTimers({ now: NOW, toFake: ["Date"] });
    const slots = new Slots();
    const backend = { name: "b", maxParallelRequests: 1, state: { inFlight: slots } };
    const stuck = concurrencyLimit(() => new Promise<Response>(() => undefined));
    const answered = concurrencyLimit(async () => new Response("ok"));
    const call = (perTryTimeoutMs: number | undefined) => ({ target: { backend, policy: { perTryTimeoutMs } }, deadlineAt: Infinity }) as unknown as CallContext;
    void stuck(call(5_000));
    vi.setSystemTime(NOW + 5_000 + 30_001);
    expect((await answered(call(undefined))).status).toBe(200);
    void stuck(call(undefined));
    vi.setSystemTime(NOW + 5_000 + 30_001 + 600_000 + 29_000);
    await expect(answered(call(undefined))).rejects.toMatchObject({ reason: "overflow" });
    vi.setSystemTime(NOW + 5_000 + 30_001 + 600_000 + 30_001);
    expect((await answered(call(undefined))).status).toBe(200);
  });

  it("drop only the slots that have ended when swept at the limit", () => {
    const slots = new Slots();
    for (let i = 0; i < 1_000; i++) slots.take(NOW + 60_000 + i);
    expect(slots.sweep(NOW)).toBe(1_000);
    expect(slots.sweep(NOW + 60_000 + 500)).toBe(500);
  });
});
