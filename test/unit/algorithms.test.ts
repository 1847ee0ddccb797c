/** The mesh's own algorithms, as pure functions: Maglev, backoff, retry budget, path normalization, precedence. */
import { describe, expect, it } from "vitest";
import { RetryBudget } from "../../workers/gateway/attempt/retry-budget.ts";
import { backoffMs } from "../../workers/gateway/attempt/retry.ts";
import { buildMaglevTable } from "../../workers/gateway/lb/maglev.ts";
import { fnv1a } from "../../workers/gateway/lb/hash.ts";
import { normalizePathname } from "../../workers/gateway/stages/normalize-path.ts";
import type { RetryPolicy } from "../../workers/gateway/table/index.ts";
import { hostnameOf } from "../../workers/gateway/table/index.ts";
import { compileMatch, comparePrecedence } from "../../workers/gateway/table/match.ts";

describe("Maglev table", () => {
  const size = 65537;
  const lookup = (table: Int32Array, ids: string[], key: string) => ids[table[fnv1a(key) % size]!];

  it("gives every endpoint a near-equal share of the table", () => {
    const ids = ["a", "b", "c", "d", "e"];
    const table = buildMaglevTable(ids, size);
    const counts = ids.map((_, i) => table.filter((slot) => slot === i).length);
    for (const count of counts) expect(Math.abs(count - size / ids.length) / (size / ids.length)).toBeLessThan(0.02);
  });

  it("moves about 1/N of the keys to an added endpoint, and under 1 % between the others", () => {
    const before = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"];
    const after = [...before, "10.0.0.5"];
    const tableBefore = buildMaglevTable(before, size);
    const tableAfter = buildMaglevTable(after, size);
    let toNew = 0;
    let elsewhere = 0;
    for (let key = 0; key < 10_000; key++) {
      const a = lookup(tableBefore, before, `user-${key}`);
      const b = lookup(tableAfter, after, `user-${key}`);
      if (a !== b && b === "10.0.0.5") toNew++;
      else if (a !== b) elsewhere++;
    }
    expect(toNew / 10_000).toBeGreaterThan(0.17);
    expect(toNew / 10_000).toBeLessThan(0.23);
    expect(elsewhere / 10_000).toBeLessThan(0.01);
  });

  it("moves only the removed endpoint's keys when one is removed", () => {
    const all = ["a", "b", "c", "d"];
    const fewer = ["a", "b", "d"];
    const tableAll = buildMaglevTable(all, size);
    const tableFewer = buildMaglevTable(fewer, size);
    let disturbed = 0;
    for (let key = 0; key < 10_000; key++) {
      const a = lookup(tableAll, all, `k${key}`);
      if (a !== "c" && a !== lookup(tableFewer, fewer, `k${key}`)) disturbed++;
    }
    // Maglev trades perfect stability for an even spread: a few other keys may move.
    expect(disturbed / 10_000).toBeLessThan(0.01);
  });
});

describe("backoff", () => {
  const policy = { baseIntervalMs: 25, maxIntervalMs: 250 } as RetryPolicy;

  it("doubles each retry from half the interval up to the full interval, capped at maxInterval", () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffMs(policy, n, () => 0))).toEqual([12.5, 25, 50, 100, 125, 125]);
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffMs(policy, n, () => 1))).toEqual([25, 50, 100, 200, 250, 250]);
  });

  it("stays within its bounds for any random draw", () => {
    for (let i = 0; i < 1000; i++) {
      const n = i % 8;
      const cap = Math.min(250, 25 * 2 ** n);
      const delay = backoffMs(policy, n);
      expect(delay).toBeGreaterThanOrEqual(cap / 2);
      expect(delay).toBeLessThanOrEqual(cap);
    }
  });
});

describe("retry budget", () => {
  it("allows ratio × requests plus the floor, then refuses", () => {
    let now = 0;
    const budget = new RetryBudget({ ratio: 0.2, minRetriesPerSecond: 1, ttl: "10s" }, () => now);
    for (let i = 0; i < 100; i++) budget.recordRequest();
    // 0.2 × 100 + 1/s × 10 s = 30 retries.
    let allowed = 0;
    while (budget.tryWithdraw()) allowed++;
    expect(allowed).toBe(30);
    now += 5_000;
    expect(budget.tryWithdraw()).toBe(false);
  });

  it("forgets requests and retries older than its ttl", () => {
    let now = 0;
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 1, ttl: "10s" }, () => now);
    let allowed = 0;
    while (budget.tryWithdraw()) allowed++;
    expect(allowed).toBe(10);
    now += 10_000;
    expect(budget.tryWithdraw()).toBe(true);
  });
});

describe("path normalization", () => {
  it("decodes unreserved characters only, and uppercases the escapes it keeps", () => {
    expect(normalizePathname("/%61pi/%7euser/%2D")).toBe("/api/~user/-");
    expect(normalizePathname("/a%20b/%3f%25")).toBe("/a%20b/%3F%25");
    expect(normalizePathname("/plain//path")).toBe("/plain/path");
    expect(normalizePathname("///a//%61//")).toBe("/a/a/");
  });

  it("refuses encoded slashes and backslashes, in any case", () => {
    for (const path of ["/a%2fb", "/a%2Fb", "/a%5cb", "/a%5Cb"]) expect(() => normalizePathname(path)).toThrow(/encoded slash/);
  });
});

describe("hostnames", () => {
  it("lowercases, drops the port and a trailing dot, and keeps IPv6 literals whole", () => {
    expect(hostnameOf("Reviews.Mesh.:8080")).toBe("reviews.mesh");
    expect(hostnameOf("[::1]:8787")).toBe("[::1]");
    expect(hostnameOf("example.com")).toBe("example.com");
  });
});

describe("match precedence", () => {
  const key = (match: Parameters<typeof compileMatch>[0]) => compileMatch(match).precedence;

  it("orders Exact, RegularExpression, longest PathPrefix, then method, header and query counts", () => {
    const ordered = [
      key({ path: { type: "Exact", value: "/a" } }),
      key({ path: { type: "RegularExpression", value: "/a/[0-9]+" } }),
      key({ path: { type: "PathPrefix", value: "/a/b" } }),
      key({ path: { type: "PathPrefix", value: "/a" }, method: "GET" }),
      key({ path: { type: "PathPrefix", value: "/a" }, headers: [{ type: "Exact", name: "x", value: "1" }, { type: "Exact", name: "y", value: "1" }] }),
      key({ path: { type: "PathPrefix", value: "/a" }, headers: [{ type: "Exact", name: "x", value: "1" }] }),
      key({ path: { type: "PathPrefix", value: "/a" }, queryParams: [{ type: "Exact", name: "q", value: "1" }] }),
      key({ path: { type: "PathPrefix", value: "/a" } }),
    ];
    const shuffled = [...ordered].reverse().sort(comparePrecedence);
    expect(shuffled).toEqual(ordered);
  });
});

describe("bounded rate-limit state", () => {
  it("keeps at most its capacity, dropping the least recently used key", async () => {
    const { LruMap } = await import("../../common/lru.ts");
    const map = new LruMap<string, number>(3);
    for (const key of ["a", "b", "c"]) map.set(key, 1);
    map.get("a");
    map.set("d", 1);
    expect(map.size).toBe(3);
    expect(map.get("b")).toBeUndefined();
    expect([map.get("a"), map.get("c"), map.get("d")]).toEqual([1, 1, 1]);
  });

  it("keeps a key read more often than once per capacity/2 insertions through a flood of new keys", async () => {
    const { LruMap } = await import("../../common/lru.ts");
    const map = new LruMap<string, number>(100);
    map.set("hot", 1);
    for (let i = 0; i < 10_000; i++) {
      map.set(`flood-${i}`, i);
      if (i % 40 === 0) expect(map.get("hot")).toBe(1);
    }
    expect(map.size).toBe(100);
    // A key nobody reads is dropped after capacity insertions.
    expect(map.get("flood-0")).toBeUndefined();
    expect(map.get("flood-9999")).toBe(9999);
  });

  it("stores a long client-chosen key as a fixed-size hash", async () => {
    const { compileSelectors } = await import("../../workers/gateway/ratelimit/selectors.ts");
    const keyOf = compileSelectors([{ headers: [{ name: "x-user", type: "Distinct", invert: false }] }]);
    const request = (user: string) => new Request("http://x/", { headers: { "x-user": user } });
    expect(keyOf(request("ann"))).toBe("3:ann");
    const long = keyOf(request("u".repeat(5000)))!;
    expect(long).toMatch(/^#[0-9a-f]+:[0-9a-f]+$/);
    expect(keyOf(request("u".repeat(5000)))).toBe(long);
    expect(keyOf(request("v".repeat(5000)))).not.toBe(long);
    expect(keyOf(new Request("http://x/"))).toBeUndefined();
    // A value shaped like a hashed key is not that key.
    expect(keyOf(request(long))).not.toBe(long);
  });

  it("keeps client-chosen values apart, whatever separators they hold", async () => {
    const { compileSelectors } = await import("../../workers/gateway/ratelimit/selectors.ts");
    const distinct = (name: string) => ({ name, type: "Distinct" as const, invert: false });
    const keyOf = compileSelectors([{ headers: [distinct("x-a"), distinct("x-b")] }]);
    const request = (a: string, b: string) => new Request("http://x/", { headers: { "x-a": a, "x-b": b } });
    expect(keyOf(request("x|y", "z"))).not.toBe(keyOf(request("x", "y|z")));
    expect(keyOf(request("1:x", "y"))).not.toBe(keyOf(request("1", "x1:y")));
    expect(keyOf(request("x", "y"))).toBe(keyOf(request("x", "y")));
  });
});
