/**
 * The circuit breaker's slots: attempts in flight to one backend, each with the time by which it has
 * surely ended. An attempt gives its slot back when it ends; one the platform cancelled (a client that
 * disconnected: its request's pending work never resumes, so no finally block runs) never does. So
 * when the limit is reached, slots past their end are dropped before the request is refused: a
 * cancelled request holds its slot until its own deadline and a grace, not for the isolate's life.
 */
const GRACE_MS = 30_000;
/** An attempt with no deadline at all (every timeout off) is taken to have ended after this long. */
export const MAX_ATTEMPT_MS = 600_000;

/** When an attempt that started `now` with this deadline has surely ended. */
export const endOf = (deadlineAt: number, now: number) => Math.min(deadlineAt, now + MAX_ATTEMPT_MS) + GRACE_MS;

export class Slots {
  private readonly ends = new Map<number, number>();
  private last = 0;
  /** No slot ends before this: a refused request at the limit does not scan live slots again and again. */
  private earliestEnd = Infinity;

  get size(): number {
    return this.ends.size;
  }

  /** A slot until `end` (endOf); its key. */
  take(end: number): number {
    const key = ++this.last;
    this.ends.set(key, end);
    if (end < this.earliestEnd) this.earliestEnd = end;
    return key;
  }

  give(key: number): void {
    this.ends.delete(key);
  }

  /** Drops the slots whose attempts must have ended by `now` (telling `dropped` each key); how many are left. */
  sweep(now: number, dropped?: (key: number) => void): number {
    if (now <= this.earliestEnd) return this.ends.size;
    let earliest = Infinity;
    for (const [key, end] of this.ends) {
      if (end < now) {
        this.ends.delete(key);
        dropped?.(key);
      } else if (end < earliest) earliest = end;
    }
    this.earliestEnd = earliest;
    return this.ends.size;
  }
}
