/**
 * One run of `work` at a time: a call while one runs gets that run's promise. The slot is cleared
 * when the run settles, also when `work` throws before its first await: a run that failed at once
 * must not stay in the slot as the answer to every later call.
 */
export function singleFlight<T>(work: () => Promise<T>): { run(): Promise<T>; readonly running: boolean } {
  let current: Promise<T> | undefined;
  return {
    run() {
      if (current) return current;
      const started = (async () => work())();
      current = started;
      const clear = () => {
        if (current === started) current = undefined;
      };
      started.then(clear, clear);
      return started;
    },
    get running() {
      return current !== undefined;
    },
  };
}
