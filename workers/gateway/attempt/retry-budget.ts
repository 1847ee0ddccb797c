/**
 * Retry budget (Linkerd's, per backend per isolate): over a sliding window of `ttl`, retries may add at
 * most `ratio` × requests, plus a floor of `minRetriesPerSecond` × ttl so a quiet backend can still be
 * retried. A failing backend therefore sees at most (1 + ratio) × its normal load, never N × it.
 */
import type { RetryBudget as RetryBudgetConfig } from "../../../policies/schema/index.ts";
import { durationToMs } from "../../../policies/schema/index.ts";

const SLOTS = 10;

export class RetryBudget {
  private readonly slotMs: number;
  private readonly floor: number;
  private readonly requests = new Array<number>(SLOTS).fill(0);
  private readonly retries = new Array<number>(SLOTS).fill(0);
  private slot = 0;
  private slotStartedAt: number;

  constructor(
    private readonly config: RetryBudgetConfig,
    private readonly now: () => number = Date.now,
  ) {
    const ttlMs = durationToMs(config.ttl);
    this.slotMs = ttlMs / SLOTS;
    this.floor = (config.minRetriesPerSecond * ttlMs) / 1000;
    this.slotStartedAt = now();
  }

  recordRequest(): void {
    this.advance();
    this.requests[this.slot]!++;
  }

  /** Takes one retry from the budget; false when the budget is spent and the retry must not happen. */
  tryWithdraw(): boolean {
    this.advance();
    const allowed = this.config.ratio * sum(this.requests) + this.floor;
    if (sum(this.retries) + 1 > allowed) return false;
    this.retries[this.slot]!++;
    return true;
  }

  private advance(): void {
    const elapsedSlots = Math.floor((this.now() - this.slotStartedAt) / this.slotMs);
    if (elapsedSlots <= 0) return;
    for (let i = 0; i < Math.min(elapsedSlots, SLOTS); i++) {
      this.slot = (this.slot + 1) % SLOTS;
      this.requests[this.slot] = 0;
      this.retries[this.slot] = 0;
    }
    this.slotStartedAt += elapsedSlots * this.slotMs;
  }
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
