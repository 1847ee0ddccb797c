/**
 * The circuit breaker's slots (attempt/slots.ts): an attempt whose work never resumes (the platform
 * cancels a disconnected client's request: no finally block runs) holds its slot until its deadline
 * and a grace of 30 s, then the next request that finds the limit reached drops it; one with no
 * deadline holds it until given back. On a clock the test sets.
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
    const call = (deadlineAt: number) => ({ target: { backend }, deadlineAt }) as unknown as CallContext;
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

  it("keep an attempt without a deadline until it gives its slot back", () => {
    const slots = new Slots();
    const key = slots.take(Infinity);
    expect(slots.sweep(Number.MAX_SAFE_INTEGER)).toBe(1);
    slots.give(key);
    expect(slots.size).toBe(0);
  });
});
