/**
 * Fault injection, per attempt, before the backend is called: a delay (which counts against the
 * per-try and request timeouts) and an abort (a response with the given status, which the retry
 * policy sees as the backend's answer). So faults exercise retries and timeouts as real failures do.
 */
import { syntheticResponse } from "../errors.ts";
import type { FaultPolicy } from "../table/index.ts";
import type { Call, CallContext, Layer } from "./call.ts";
import { sleep } from "./sleep.ts";
import { timeoutError } from "./timeouts.ts";

const roll = (percentage: number, random = Math.random) => percentage >= 100 || random() * 100 < percentage;

export const faultInjection: Layer = (inner) => (call) => {
  const fault = call.target.policy.fault;
  // No fault configured (the usual case): the attempt goes straight on, without a frame of its own.
  return fault ? inject(fault, inner, call) : inner(call);
};

async function inject(fault: FaultPolicy, inner: Call, call: CallContext): Promise<Response> {
  if (fault.delay && roll(fault.delay.percentage)) {
    call.outcome?.faults.push("delay");
    await sleep(fault.delay.ms, call.signal).catch((cause) => {
      throw timeoutError(call, cause);
    });
  }
  if (fault.abort && roll(fault.abort.percentage)) {
    call.outcome?.faults.push("abort");
    return syntheticResponse(fault.abort.status, "fault_abort", "aborted by fault injection", call.outcome?.requestId);
  }
  return inner(call);
}
