/**
 * The outcome sink behind the dashboard's live view: this isolate's last RECENT_CAPACITY outcomes in
 * a ring buffer (fixed memory, one slot written per request), as short records with the trace id.
 * Per isolate by design: another isolate's requests are in its own buffer, and the mesh-wide view is
 * the metrics. Strings are cut to a bound, since they come from the request.
 */
import type { Outcome, OutcomeSink } from "../outcome.ts";

export const RECENT_CAPACITY = 200;
const MAX_TEXT = 256;

export interface RecentOutcome {
  at: number;
  requestId: string;
  traceId: string;
  sampled: boolean;
  method: string;
  host: string;
  path: string;
  route: string | null;
  backend: string | null;
  status: number;
  reason: string | null;
  latencyMs: number;
  attempts: number;
  /** The caller's SPIFFE ID, "refused: <code>", or null for an anonymous caller. */
  source: string | null;
}

const cut = (text: string) => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text);

export class RecentOutcomes {
  private readonly ring: (RecentOutcome | undefined)[];
  private next = 0;

  constructor(readonly capacity = RECENT_CAPACITY) {
    this.ring = new Array(capacity);
  }

  push(outcome: Outcome): void {
    const source = outcome.source === undefined ? null : "id" in outcome.source ? outcome.source.id : `refused: ${outcome.source.refused}`;
    this.ring[this.next] = {
      at: outcome.startedAt,
      requestId: cut(outcome.requestId),
      traceId: outcome.traceId,
      sampled: outcome.traceFlags === "01",
      method: cut(outcome.method),
      host: cut(outcome.host),
      path: cut(outcome.path),
      route: outcome.route ?? null,
      backend: outcome.backend ?? null,
      status: outcome.status,
      reason: outcome.reason ?? null,
      latencyMs: outcome.latencyMs,
      attempts: outcome.attempts,
      source: source === null ? null : cut(source),
    };
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest first, at most `limit`. */
  list(limit = this.capacity): RecentOutcome[] {
    const out: RecentOutcome[] = [];
    for (let i = 1; i <= this.capacity && out.length < limit; i++) {
      const record = this.ring[(this.next - i + this.capacity) % this.capacity];
      if (record) out.push(record);
    }
    return out;
  }
}

export const recordRecent =
  (recent: RecentOutcomes): OutcomeSink =>
  (outcome) => {
    recent.push(outcome);
  };
