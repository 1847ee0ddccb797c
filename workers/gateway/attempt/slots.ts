/**
 * The circuit breaker's slots: attempts in flight to one backend, each with the time by which it has
 * surely ended. An attempt gives its slot back when it ends; one the platform cancelled (a client that
 * disconnected: its request's pending work never resumes, so no finally block runs) never does. So
 * when the limit is reached, slots past their end are dropped before the request is refused: a
 * cancelled request holds its slot until its own deadline and a grace, not for the isolate's life.
 */
const GRACE_MS = 30_000;

export class Slots {
  private readonly ends = new Map<number, number>();
  private last = 0;

  get size(): number {
    return this.ends.size;
  }

  /** A slot until `deadlineAt` (Infinity: no deadline, held until given back); its key. */
  take(deadlineAt: number): number {
    const key = ++this.last;
    this.ends.set(key, deadlineAt + GRACE_MS);
    return key;
  }

  give(key: number): void {
    this.ends.delete(key);
  }

  /** Drops the slots whose attempts must have ended by `now`; how many are left. */
  sweep(now: number): number {
    for (const [key, end] of this.ends) if (end < now) this.ends.delete(key);
    return this.ends.size;
  }
}
