/**
 * The outcome sink that exports traces: a sampled request's spans (or any request's, when it failed:
 * errors are always kept) go into this isolate's queue, and at most one export at a time sends what
 * is queued to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces as OTLP/HTTP JSON, after the response
 * (`waitUntil`), after gathering for OTEL_BSP_SCHEDULE_DELAY (5 s) unless a batch is full. The queue is bounded: past OTEL_BSP_MAX_QUEUE_SIZE spans (default 2 048, as the
 * SDK's batch span processor; batches of OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512) new ones are dropped and counted
 * (edgemesh_trace_spans_dropped_total), so a collector that is slow or away costs memory that does
 * not grow. An export that fails is not retried: traces are samples, and late ones mislead.
 */
import type { MetricStore } from "../../../common/metrics/store.ts";
import type { GatewayEnv } from "../env.ts";
import type { OutcomeSink } from "../outcome.ts";
import { sleep } from "../attempt/sleep.ts";
import { isSampled } from "../trace-context.ts";
import { spansOf, type OtlpSpan } from "../tracing/spans.ts";
import { withTimeout } from "../../../common/with-timeout.ts";
import { RUN_BUDGET_MS, running } from "./background.ts";

const MAX_QUEUED = 2_048;
const MAX_BATCH = 512;
const EXPORT_TIMEOUT_MS = 5_000;

/** OTEL_BSP_SCHEDULE_DELAY: how long spans gather before an export (the SDK's default, 5 s; 0 sends at once). */
const SCHEDULE_DELAY_MS = 5_000;
const delayMs = (value: string | undefined) => {
  const number = Number(value ?? SCHEDULE_DELAY_MS);
  return Number.isFinite(number) && number >= 0 && number <= 30_000 ? number : SCHEDULE_DELAY_MS;
};

const setting = (value: string | undefined, fallback: number) => {
  const number = Number(value ?? fallback);
  return Number.isInteger(number) && number > 0 ? number : fallback;
};

export class TraceQueue {
  spans: OtlpSpan[] = [];
  /** When the export under way started (0: none); see background.ts. */
  exportingSince = 0;
  dropped = 0;

  get exporting(): boolean {
    return running(this.exportingSince);
  }
}

export const exportTraces =
  (queue: TraceQueue, metrics: MetricStore): OutcomeSink =>
  (outcome, env) => {
    const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
    if (!endpoint) return;
    if (!isSampled(outcome.traceFlags) && outcome.status < 500) return;
    const spans = spansOf(outcome);
    const room = setting(env.OTEL_BSP_MAX_QUEUE_SIZE, MAX_QUEUED) - queue.spans.length;
    if (room < spans.length) {
      queue.dropped += spans.length;
      metrics.inc("spansDropped", [], spans.length);
      return;
    }
    queue.spans.push(...spans);
    if (queue.exporting) return;
    const since = (queue.exportingSince = Date.now());
    return drain(queue, endpoint, env, since);
  };

async function drain(queue: TraceQueue, endpoint: string, env: GatewayEnv, since: number): Promise<void> {
  try {
    const batchSize = setting(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, MAX_BATCH);
    // Gather a batch first, as the SDK's batch span processor does: one export per delay, not per request.
    if (queue.spans.length < batchSize) await sleep(delayMs(env.OTEL_BSP_SCHEDULE_DELAY));
    // Under steady traffic the queue never empties: past the budget, the next request's run takes the rest.
    while (queue.spans.length && Date.now() - since < RUN_BUDGET_MS) {
      const batch = queue.spans.splice(0, batchSize);
      await send(batch, endpoint, env).catch((error) =>
        console.error(JSON.stringify({ level: "warn", message: "trace export failed; spans dropped", spans: batch.length, error: String(error) })),
      );
    }
  } finally {
    // Not if a newer run took over from this one (taken for cut off): that one clears its own.
    if (queue.exportingSince === since) queue.exportingSince = 0;
  }
}

async function send(spans: OtlpSpan[], endpoint: string, env: GatewayEnv): Promise<void> {
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: env.OTEL_SERVICE_NAME ?? "edgemesh-gateway" } }] },
        scopeSpans: [{ scope: { name: "edgemesh", version: "0.1.0" }, spans }],
      },
    ],
  };
  const response = await withTimeout(
    fetch(`${endpoint.replace(/\/+$/, "")}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    EXPORT_TIMEOUT_MS,
  );
  await response.body?.cancel();
  if (!response.ok) throw new Error(`the collector answered ${response.status}`);
}
