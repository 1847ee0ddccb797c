/**
 * One run of `work` at a time: a call while one runs gets that run's promise. The slot is cleared
 * when the run settles, also when `work` throws before its first await (a run that failed at once
 * must not stay the answer to every later call), and after `abandonAfterMs` if given: in Workers a
 * fetch cancelled with the request that started it may never settle, and must not hold the slot
 * for good (the next call then starts a run of its own).
 */
export function singleFlight<T>(work: () => Promise<T>, abandonAfterMs?: number): { run(): Promise<T>; readonly running: boolean } {
  let current: Promise<T> | undefined;
  return {
    run() {
      if (current) return current;
      const started = (async () => work())();
      current = started;
      const timer = abandonAfterMs === undefined ? undefined : setTimeout(clear, abandonAfterMs);
      function clear() {
        if (timer !== undefined) clearTimeout(timer);
        if (current === started) current = undefined;
      }
      started.then(clear, clear);
      return started;
    },
    get running() {
      return current !== undefined;
    },
  };
}
