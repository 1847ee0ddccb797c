import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderPrometheus } from "../../common/metrics/exposition.ts";
import { FAMILIES, LATENCY_BUCKETS_SECONDS } from "../../common/metrics/families.ts";
import { bucketQuantile } from "../../common/metrics/quantile.ts";
import { isServerError, MetricStore, OVERFLOW_LABEL } from "../../common/metrics/store.ts";

const routeLabels = (destination: string, code = "200") => ["productpage", "spiffe://edgemesh.local/ns/default/sa/productpage", destination, "default/details", code, ""];

describe("metric store", () => {
  it("counts and observes, and merging two stores' entries equals one store that saw everything", () => {
    const a = new MetricStore();
    const b = new MetricStore();
    const both = new MetricStore();
    for (const [store, latency] of [[a, 0.002], [b, 0.3], [a, 12]] as const) {
      for (const s of [store, both]) {
        s.inc("requests", routeLabels("details"));
        s.observe("requestDuration", ["productpage", "spiffe://edgemesh.local/ns/default/sa/productpage", "details", "default/details", "200"], latency);
      }
    }
    const merged = new MetricStore();
    merged.merge(a.toEntries());
    merged.merge(b.toEntries());
    // Sums are floating point: added in another order, they may differ in the last bits.
    const rounded = (store: MetricStore) => store.toEntries().map((entry) => ({ ...entry, sum: entry.sum === undefined ? undefined : Number(entry.sum.toFixed(9)) }));
    expect(rounded(merged)).toEqual(rounded(both));
    const [histogram] = merged.read("requestDuration");
    expect(histogram!.count).toBe(3);
    expect(histogram!.buckets![LATENCY_BUCKETS_SECONDS.indexOf(0.0025)]).toBe(1);
    expect(histogram!.buckets![LATENCY_BUCKETS_SECONDS.length]).toBe(1); // 12 s: the +Inf bucket
  });

  it("drops entries whose labels do not fit the family (another deploy's), rather than guess", () => {
    const store = new MetricStore();
    store.merge([{ family: "requests", labels: ["only-one"], count: 5 }, { family: "nope" as never, labels: [], count: 1 }]);
    expect(store.size).toBe(0);
  });

  it("bounds cardinality: past the cap the least-counted half folds into one overflow series, totals kept", () => {
    const store = new MetricStore(100);
    // Ten heavy series, then a thousand one-off ones (a scan over random paths, say).
    for (let i = 0; i < 10; i++) store.inc("requests", routeLabels(`heavy-${i}`), 1_000);
    for (let i = 0; i < 1_000; i++) store.inc("requests", routeLabels(`rare-${i}`));
    const series = store.read("requests");
    expect(series.length).toBeLessThanOrEqual(100);
    expect(series.reduce((sum, s) => sum + s.count, 0)).toBe(10 * 1_000 + 1_000);
    for (let i = 0; i < 10; i++) expect(series.find((s) => s.labels[2] === `heavy-${i}`)?.count).toBe(1_000);
    // A thousand services (more than the cap) fold whole: only the response code's class is kept.
    expect(series.find((s) => s.labels[2] === OVERFLOW_LABEL && s.labels[4] === "2xx")!.count).toBeGreaterThan(0);
  });

  it("folds keeping the destination service and the response code's class: a quiet service's 5xx stay its failures", () => {
    const store = new MetricStore(100);
    store.inc("requests", routeLabels("payments", "503"), 20);
    // Then many busy callers of another service push the family past its cap.
    for (let i = 0; i < 1_000; i++) store.inc("requests", ["web", `spiffe://edgemesh.local/ns/default/sa/caller-${i}`, "web", "default/web", "200", ""], 5);
    const series = store.read("requests");
    expect(series.length).toBeLessThanOrEqual(100);
    const failures = (service: string) => series.filter((s) => s.labels[2] === service && isServerError(s.labels[4])).reduce((sum, s) => sum + s.count, 0);
    expect(failures("payments")).toBe(20);
    expect(failures("web")).toBe(0);
    expect(series.reduce((sum, s) => sum + s.count, 0)).toBe(20 + 5_000);
    expect([isServerError("503"), isServerError("5xx"), isServerError("200"), isServerError(OVERFLOW_LABEL), isServerError(undefined)]).toEqual([true, true, false, false, false]);
  });
});

describe("quantiles from buckets", () => {
  it("interpolates inside the bucket, as histogram_quantile does", () => {
    const bounds = [0.1, 0.2, 0.4];
    expect(bucketQuantile(0.5, bounds, [0, 10, 0, 0])).toBeCloseTo(0.15, 10);
    expect(bucketQuantile(0.99, bounds, [50, 0, 50, 0])).toBeCloseTo(0.2 + 0.2 * 0.98, 10);
    expect(bucketQuantile(0.99, bounds, [0, 0, 0, 7])).toBe(0.4);
    expect(bucketQuantile(0.5, bounds, [0, 0, 0, 0])).toBeNaN();
  });
});

describe("Prometheus exposition", () => {
  const store = new MetricStore();
  store.inc("requests", routeLabels('de"ta\\ils\nx'));
  store.inc("requests", routeLabels("details", "503"), 2);
  store.observe("requestDuration", ["productpage", "spiffe://edgemesh.local/ns/default/sa/productpage", "details", "default/details", "200"], 0.004);
  store.inc("unauthenticated", ["default/details", "expired"]);
  const text = renderPrometheus(store);

  it("has HELP and TYPE for every family, escaped labels and cumulative buckets ending at +Inf", () => {
    for (const family of Object.values(FAMILIES)) {
      expect(text).toContain(`# HELP ${family.name} `);
      expect(text).toContain(`# TYPE ${family.name} ${family.type}`);
    }
    expect(text).toContain('destination_service="de\\"ta\\\\ils\\nx"');
    expect(text).toMatch(/edgemesh_request_duration_seconds_bucket\{[^}]*le="0\.005"\} 1\n/);
    expect(text).toMatch(/edgemesh_request_duration_seconds_bucket\{[^}]*le="\+Inf"\} 1\n/);
    expect(text).toMatch(/edgemesh_request_duration_seconds_count\{[^}]*\} 1\n/);
  });

  it("labels each shard's series with its shard, each family's lines together, so a restarted shard is a reset of its own series", () => {
    const other = new MetricStore();
    other.inc("requests", routeLabels("details", "503"), 5);
    other.observe("requestDuration", ["productpage", "spiffe://edgemesh.local/ns/default/sa/productpage", "details", "default/details", "200"], 0.004);
    const shards = renderPrometheus([store, other]);
    const requests = shards.split("\n").filter((line) => line.startsWith("edgemesh_requests_total{") && line.includes('destination_service="details"'));
    expect(requests.map((line) => [/shard="(\d)"/.exec(line)?.[1], line.split(" ").at(-1)])).toEqual([["0", "2"], ["1", "5"]]);
    expect(shards).toMatch(/edgemesh_request_duration_seconds_bucket\{[^}]*shard="1",le="\+Inf"\} 1\n/);
    // One HELP and TYPE per family, every series of a family after them.
    expect(shards.match(/# TYPE edgemesh_requests_total /g)).toHaveLength(1);
    const families = shards.split("\n").filter((line) => line && !line.startsWith("#")).map((line) => line.replace(/(_bucket|_sum|_count)?\{.*/, ""));
    expect(families.filter((name, i) => i > 0 && name !== families[i - 1] && families.slice(0, i - 1).includes(name))).toEqual([]);
    if (existsSync("/usr/bin/promtool")) expect(execFileSync("/usr/bin/promtool", ["check", "metrics"], { input: shards, encoding: "utf8" })).toBe("");
  });

  // Debian's prometheus package; .ci/run installs it when missing.
  it.runIf(existsSync("/usr/bin/promtool"))("passes promtool check metrics", () => {
    const result = execFileSync("/usr/bin/promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(result).toBe("");
  });
});
