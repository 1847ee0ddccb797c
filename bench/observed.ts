/**
 * `gateway_observed`: the gateway with observability on, as issue 8 benchmarks it. The same policies
 * and access log as `gateway`, plus the METRICS binding (each isolate counts every outcome and
 * flushes the deltas to its MetricsAggregator every METRICS_FLUSH_INTERVAL_MS, the deployed 2 s) and
 * traces: 10 % of new traces sampled (OTEL_TRACES_SAMPLER_ARG), their spans exported as OTLP/HTTP
 * JSON to a loopback collector run here, which accepts POST /v1/traces, counts and discards.
 * `gateway` runs without METRICS (the metrics sink then records nothing) and without an OTLP
 * endpoint (nothing is exported), so the difference is what observability costs.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ADMIN_TOKEN } from "./control-plane.ts";
import { probe } from "./check.ts";
import type { Binding } from "./workerd.ts";

/** Issue 8's target: observability on costs at most this much CPU per request over `gateway`. */
export const MAX_OBSERVED_CPU_DELTA_US = 15;
/** The share of new traces sampled in `gateway_observed`. */
export const TRACE_SAMPLE_RATIO = "0.1";

export interface Collector {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: spans go to `${endpoint}/v1/traces`. */
  endpoint: string;
  /** What it received: export requests and the spans in them. */
  readonly received: { exports: number; spans: number; bad: number };
  close(): Promise<void>;
}

/** The loopback OTLP/HTTP collector: counts the spans of each POST /v1/traces, keeps nothing. */
export async function startCollector(): Promise<Collector> {
  const received = { exports: 0, spans: 0, bad: 0 };
  const server: Server = createServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/v1/traces") {
      res.writeHead(404).end();
      return;
    }
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      try {
        const { resourceSpans } = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] };
        received.spans += resourceSpans.reduce((n, r) => n + r.scopeSpans.reduce((m, s) => m + s.spans.length, 0), 0);
        received.exports++;
      } catch {
        received.bad++;
      }
      // OTLP/HTTP's success answer: an empty ExportTraceServiceResponse.
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The settings `gateway_observed` binds on top of the gateway's (METRICS comes with the control plane's observability option). */
export function observedBindings(collector: Collector, sampleRatio = TRACE_SAMPLE_RATIO): Binding[] {
  return [
    { name: "OTEL_EXPORTER_OTLP_ENDPOINT", text: collector.endpoint },
    { name: "OTEL_TRACES_SAMPLER_ARG", text: sampleRatio },
  ];
}

/** Probes sent at most: at 10 % sampling, the chance that 200 requests sample none is below 1e-9. */
const MAX_PROBES = 200;
const WAIT_MS = 10_000;

/**
 * Observability must really be on before it is measured: after a few requests the collector has
 * received spans, and GET /admin/metrics (the aggregators' sum) counts the benchmarked route's
 * requests in edgemesh_requests_total.
 */
export async function checkObserved(name: string, url: string, host: string, route: string, collector: Collector): Promise<void> {
  const before = collector.received.spans;
  for (let i = 0; i < MAX_PROBES && collector.received.spans === before; i++) {
    const answer = await probe(url, host);
    if (answer.status !== 200) throw new Error(`${name}: a probe answered ${answer.status}`);
  }
  await until(() => collector.received.spans > before, `${name}: the OTLP collector received no spans after ${MAX_PROBES} requests at ${TRACE_SAMPLE_RATIO} sampling`);
  if (collector.received.bad) throw new Error(`${name}: the OTLP collector received ${collector.received.bad} exports that are not OTLP JSON`);
  const metricsUrl = `${new URL(url).origin}/admin/metrics`;
  let last = "";
  await until(async () => {
    const response = await fetch(metricsUrl, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    last = `${response.status} ${(await response.text()).slice(0, 2000)}`;
    return response.status === 200 && new RegExp(`^edgemesh_requests_total\\{[^}]*route="${route}"`, "m").test(last.slice(4));
  }, () => `${name}: GET /admin/metrics shows no edgemesh_requests_total for route ${route}:\n${last}`);
}

async function until(ok: () => boolean | Promise<boolean>, why: string | (() => string)): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(typeof why === "string" ? why : why());
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
