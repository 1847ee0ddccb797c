/// <reference types="@cloudflare/vitest-pool-workers/types" />
/**
 * The MetricsAggregator writes its windowed counts by alarm, not per report: many reports leave its
 * tables as they were and share one alarm, while every read already sees them; the alarm writes them
 * (fired again, it changes nothing), and a new instance over the same storage finds them and adds to
 * them. The cumulative series (the exposition) start from zero in a new instance, as a process's
 * counters do, and stay monotonic when a family is full. (Across a restart of workerd:
 * test/control-plane/metrics.test.ts.)
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FAMILIES } from "../../common/metrics/families.ts";
import type { MetricsApi, MetricsReport } from "../../common/metrics/protocol.ts";
import { PERSIST_INTERVAL_MS } from "../../durable-objects/metrics-state.ts";
import { MetricStore } from "../../common/metrics/store.ts";

const BUCKETS = FAMILIES.requestDuration.buckets.length + 1;

const shardNamed = (name: string) => {
  const stub = env.METRICS.get(env.METRICS.idFromName(name));
  return { stub, api: stub as unknown as MetricsApi };
};

/** One request to "up" through route "default/shop", as an isolate's flush would carry it. */
const oneRequest = (at: number, code: number): MetricsReport => ({
  at,
  entries: [
    { family: "requests", labels: ["web", "spiffe://edgemesh.local/ns/default/sa/web", "up", "default/shop", String(code), ""], count: 1 },
    { family: "requestDuration", labels: ["web", "spiffe://edgemesh.local/ns/default/sa/web", "up", "default/shop", String(code)], count: 1, sum: 0.004, buckets: Array.from({ length: BUCKETS }, (_, i) => (i === 3 ? 1 : 0)) },
  ],
});

/** What the object's tables hold, and its alarm. */
const stored = (stub: DurableObjectStub) =>
  runInDurableObject(stub, async (_object, state) => ({
    alarm: await state.storage.getAlarm(),
    minutes: state.storage.sql.exec<{ minute: number; entries: string }>("SELECT minute, entries FROM minutes").toArray(),
    slo: state.storage.sql.exec("SELECT minute, service, route, total, errors, buckets FROM slo_minutes").toArray(),
  }));

async function reads(api: MetricsApi, since: number) {
  const requests = (entries: { family: string; count: number }[]) => entries.filter((entry) => entry.family === "requests").reduce((sum, entry) => sum + entry.count, 0);
  return {
    totals: requests(await api.totals()),
    window: requests(await api.window(since)),
    minutes: (await api.minutes(since, "up")).map((row) => ({ minute: row.minute, requests: requests(row.entries) })),
    slo: (await api.sloCounts({ service: "up", route: "default/shop", sinceMs: [since] }))[0],
  };
}

describe("MetricsAggregator writes", () => {
  it("gathers many reports in memory under one alarm, which writes them once; a new instance finds them", async () => {
    const { stub, api } = shardNamed("writes-by-alarm");
    const at = Date.now();
    const since = at - 60_000;
    const minute = Math.floor(at / 60_000);
    await api.report(oneRequest(at, 200));
    const { alarm } = await stored(stub);
    expect(alarm).toBeGreaterThan(at);
    expect(alarm).toBeLessThanOrEqual(Date.now() + PERSIST_INTERVAL_MS);
    for (let i = 1; i < 50; i++) await api.report(oneRequest(at, i < 40 ? 200 : 503));

    // Nothing written yet, the same alarm pending (the real one fires PERSIST_INTERVAL_MS after the first report).
    const before = await stored(stub);
    expect(Date.now()).toBeLessThan(alarm!);
    expect(before).toEqual({ alarm, minutes: [], slo: [] });
    // Yet every read sees all 50.
    const expected = { totals: 50, window: 50, minutes: [{ minute, requests: 50 }], slo: { total: 50, errors: 10, buckets: Array.from({ length: BUCKETS }, (_, i) => (i === 3 ? 50 : 0)) } };
    expect(await reads(api, since)).toEqual(expected);

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const written = await stored(stub);
    expect(written.alarm).toBeNull();
    expect(written.minutes.map((row) => row.minute)).toEqual([minute]);
    expect(written.slo).toEqual([{ minute, service: "up", route: "default/shop", total: 50, errors: 10, buckets: JSON.stringify(expected.slo.buckets) }]);

    // A duplicate delivery writes the same again, and sets no alarm.
    await runInDurableObject(stub, (_object, state) => state.storage.setAlarm(Date.now() + 60_000));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stored(stub)).toEqual(written);

    // A new instance over the same storage, as after an eviction or a restart: the windows are
    // there; the exposition's counters start again from zero (a reset, which Prometheus expects).
    await runInDurableObject(stub, (_object, state) => state.abort("restart")).catch(() => undefined);
    const again = shardNamed("writes-by-alarm");
    expect(await reads(again.api, since)).toEqual({ ...expected, totals: 0 });

    // Its next report adds to the stored rows (the same minute) and sets the alarm again.
    await again.api.report(oneRequest(at, 503));
    expect((await stored(again.stub)).alarm).not.toBeNull();
    expect(await reads(again.api, since)).toEqual({ ...expected, totals: 1, window: 51, minutes: [{ minute, requests: 51 }], slo: { ...expected.slo, total: 51, errors: 11, buckets: expected.slo.buckets.map((n) => (n ? 51 : 0)) } });
    expect(await runDurableObjectAlarm(again.stub)).toBe(true);
    expect((await stored(again.stub)).slo).toMatchObject([{ minute, total: 51, errors: 11 }]);
  });

  it("writes nothing and sets no alarm for a report without entries", async () => {
    const { stub, api } = shardNamed("empty-report");
    await api.report({ at: Date.now(), entries: [] });
    expect(await stored(stub)).toEqual({ alarm: null, minutes: [], slo: [] });
  });

  it("takes a report sent again (same source and number) once, and the isolate's next report as usual", async () => {
    const { api } = shardNamed("resent-report");
    const at = Date.now();
    const since = at - 60_000;
    const report = { ...oneRequest(at, 200), source: "isolate-a", seq: 7 };
    await api.report(report);
    await api.report(report); // its first call timed out in the isolate, yet had landed
    expect((await reads(api, since)).totals).toBe(1);
    await api.report({ ...oneRequest(at, 200), source: "isolate-a", seq: 8 });
    await api.report({ ...oneRequest(at, 200), source: "isolate-b", seq: 7 });
    // Reports of earlier deploys carry no number: each is taken.
    await api.report(oneRequest(at, 200));
    await api.report(oneRequest(at, 200));
    // Earlier reports sent again with a new one: those taken already (7, 8) are skipped, 9 and 10 counted.
    const numbered = (seq: number) => ({ ...oneRequest(at, 200), source: "isolate-a", seq });
    await api.report({ ...numbered(10), earlier: [numbered(7), numbered(8), numbered(9)] });
    const read = await reads(api, since);
    expect([read.totals, read.window, read.slo?.total]).toEqual([7, 7, 7]);
  });

  it("keeps every cumulative series monotonic when a family is full: new series count in the overflow series, none is folded", async () => {
    const store = new MetricStore(4, "overflow");
    const labels = (service: string, code: string) => ["web", "spiffe://edgemesh.local/ns/default/sa/web", service, "default/shop", code, ""];
    const scrape = () => new Map(store.read("requests").map((series) => [series.labels.join("|"), series.count]));
    for (const service of ["a", "b", "c", "d"]) store.inc("requests", labels(service, "200"), 10);
    const before = scrape();
    // New series past the cap, and more on the old ones.
    store.inc("requests", labels("e", "503"), 3);
    store.inc("requests", labels("f", "200"));
    store.inc("requests", labels("a", "200"));
    const after = scrape();
    for (const [key, count] of before) expect(after.get(key), key).toBeGreaterThanOrEqual(count);
    expect(after.get(labels("a", "200").join("|"))).toBe(11);
    // The service stays, the code becomes its class: a quiet service's failures stay its failures.
    expect(after.get(["__overflow__", "__overflow__", "e", "__overflow__", "5xx", "__overflow__"].join("|"))).toBe(3);
    // Every request counted once: 40 + 3 + 1 + 1.
    expect([...after.values()].reduce((sum, count) => sum + count, 0)).toBe(45);
    // A family whose labels are all kept (the destination alone) still stops growing: past twice the cap the service folds too.
    for (let i = 0; i < 100; i++) store.inc("retryBudgetExhausted", [`service-${i}`]);
    const budget = store.read("retryBudgetExhausted");
    expect(budget.length).toBeLessThanOrEqual(2 * 4 + 1);
    expect(budget.reduce((sum, series) => sum + series.count, 0)).toBe(100);
    // A service whose overflow series exists keeps counting in it, past twice the cap too.
    for (let i = 0; i < 10; i++) store.inc("requests", labels(`s${i}`, "200"));
    expect(store.read("requests").length).toBeGreaterThanOrEqual(8);
    store.inc("requests", labels("e", "502"), 2);
    expect(scrape().get(["__overflow__", "__overflow__", "e", "__overflow__", "5xx", "__overflow__"].join("|"))).toBe(5);
  });
});
