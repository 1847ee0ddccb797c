/** Timers take a signed 32-bit delay: a longer one would fire at once. Policies may name longer (99999h). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer; with a signal, it stops early when the signal aborts (rejecting with the signal's reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  ms = Math.min(ms, MAX_TIMER_MS);
  if (!signal) return new Promise((resolve) => setTimeout(resolve, ms));
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
