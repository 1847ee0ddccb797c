/**
 * How long one piece of background work (an export, a flush) may keep going on a request's
 * `ctx.waitUntil`: the platform cancels what is still running about 30 s after the response, and a
 * cancelled promise may never settle, so its `finally` would never clear a "running" flag. Work
 * therefore stops taking more after RUN_BUDGET_MS (what is left goes with the next request's run),
 * and a flag older than STALE_AFTER_MS is taken for a run that was cut off.
 */
export const RUN_BUDGET_MS = 20_000;
export const STALE_AFTER_MS = 40_000;

/** Whether a run that started at `since` (epoch ms, 0: none) still counts as running. */
export const running = (since: number, now = Date.now()): boolean => since > 0 && now - since < STALE_AFTER_MS;
