/**
 * The routing table's path index (table/path-index.ts, virtual-hosts.ts): Gateway API precedence
 * across path kinds and hostname groups, element-wise prefixes, and equivalence with the linear scan
 * it replaced, on randomized route sets (fixed seed).
 */
import { describe, expect, it } from "vitest";
import { formatError } from "../../policies/errors.ts";
import { valuesOf } from "../../policies/normalized.ts";
import { parsePolicySet } from "../../policies/policy-set.ts";
import type { HTTPRouteMatch } from "../../policies/schema/index.ts";
import { createIsolateState } from "../../workers/gateway/isolate-state.ts";
import { compileTable, type RequestView, type RoutingTable } from "../../workers/gateway/table/index.ts";
import { compileMatch, comparePrecedence, precedenceRank, type CompiledMatch } from "../../workers/gateway/table/match.ts";
import { prng } from "../support/prng.ts";

type Doc = Record<string, unknown>;

const backend = { apiVersion: "edgemesh.dev/v1alpha1", kind: "Backend", metadata: { name: "b" }, spec: { endpoints: [{ url: "http://127.0.0.1:9" }] } };
const route = (name: string, hostnames: string[] | undefined, matches: Doc[][]): Doc => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: { name },
  spec: { ...(hostnames && { hostnames }), rules: matches.map((ruleMatches) => ({ matches: ruleMatches, backendRefs: [{ name: "b" }] })) },
});

function checked(routes: Doc[]) {
  const result = parsePolicySet([backend, ...routes].map((value, index) => ({ source: "test", index, value })));
  if (!result.ok) throw new Error(result.errors.map(formatError).join("\n"));
  return result.set;
}

const tableOf = (routes: Doc[]) => compileTable(valuesOf(checked(routes)), 1, {}, createIsolateState());

function view(path: string, init: { method?: string; headers?: Record<string, string>; query?: string } = {}): RequestView {
  return { method: init.method ?? "GET", path, headers: new Headers(init.headers), query: new URLSearchParams(init.query ?? "") };
}

/** "route#rule.match" of the entry a request goes to, or undefined. */
function matched(table: RoutingTable, host: string, request: RequestView): string | undefined {
  const entry = table.hosts.match(host, request);
  return entry && `${entry.rule.route}#${entry.order[1]}.${entry.order[2]}`;
}

const prefix = (value: string, extra: Doc = {}) => ({ path: { type: "PathPrefix", value }, ...extra });
const exact = (value: string, extra: Doc = {}) => ({ path: { type: "Exact", value }, ...extra });
const regex = (value: string, extra: Doc = {}) => ({ path: { type: "RegularExpression", value }, ...extra });

describe("path index precedence", () => {
  const table = tableOf([
    route("paths", ["api.test"], [
      [prefix("/")],
      [prefix("/shop")],
      [prefix("/shop/cart")],
      [exact("/shop/cart/x")],
      [regex("/shop/[a-z]+/x")],
      [regex("/shop/.*")],
      [prefix("/shop", { method: "POST" })],
      [prefix("/shop", { headers: [{ name: "x-a", value: "1" }] })],
      [prefix("/shop", { headers: [{ name: "x-a", value: "1" }, { name: "x-b", value: "1" }] })],
      [prefix("/shop", { queryParams: [{ name: "q", value: "1" }] })],
      [exact("/e", { method: "POST" }), exact("/e")],
    ]),
    // Same precedence as a rule of "paths": the tie goes to the route first by namespace/name.
    route("aaa", ["api.test"], [[prefix("/tie")]]),
    route("zzz", ["api.test"], [[prefix("/tie")]]),
    route("wild", ["*.test"], [[exact("/only-wild")], [exact("/")]]),
    route("anyhost", undefined, [[exact("/only-any")], [prefix("/")]]),
  ]);
  const at = (path: string, init?: Parameters<typeof view>[1], host = "api.test") => matched(table, host, view(path, init));

  it("tries Exact, then regexes longest first, then the longest prefix", () => {
    expect(at("/shop/cart/x")).toBe("paths#3.0");
    expect(at("/shop/abc/x")).toBe("paths#4.0");
    expect(at("/shop/cart/y")).toBe("paths#5.0");
    expect(at("/shop/cart")).toBe("paths#5.0");
    expect(at("/shop")).toBe("paths#1.0");
    expect(at("/elsewhere")).toBe("paths#0.0");
  });

  it("then method, most headers, most query params, then route name, rule and match index", () => {
    expect(at("/shop", { method: "POST", headers: { "x-a": "1", "x-b": "1" }, query: "q=1" })).toBe("paths#6.0");
    expect(at("/shop", { headers: { "x-a": "1", "x-b": "1" }, query: "q=1" })).toBe("paths#8.0");
    expect(at("/shop", { headers: { "x-a": "1" }, query: "q=1" })).toBe("paths#7.0");
    expect(at("/shop", { query: "q=1" })).toBe("paths#9.0");
    expect(at("/e", { method: "POST" })).toBe("paths#10.0");
    expect(at("/e")).toBe("paths#10.1");
    expect(at("/tie")).toBe("aaa#0.0");
  });

  it("keeps precedence within each hostname group: exact host, then wildcards, then routes without hostnames", () => {
    // The exact host's "/" prefix wins over the wildcard's and the any-host Exact paths.
    expect(at("/only-wild")).toBe("paths#0.0");
    expect(at("/only-any")).toBe("paths#0.0");
    expect(at("/only-wild", {}, "other.test")).toBe("wild#0.0");
    expect(at("/x", {}, "other.test")).toBe("anyhost#1.0");
    expect(at("/", {}, "other.test")).toBe("wild#1.0");
    expect(at("/only-any", {}, "elsewhere.example")).toBe("anyhost#0.0");
  });
});

describe("path index prefixes", () => {
  const table = tableOf([
    route("abc", ["p.test"], [[prefix("/abc")]]),
    route("abc-slash", ["p.test"], [[prefix("/abc/")]]),
    route("deep", ["p.test"], [[prefix("/abc/def")]]),
    route("root", ["p.test"], [[prefix("/")]]),
    route("only-abc", ["q.test"], [[prefix("/abc")]]),
  ]);
  const at = (path: string, host = "p.test") => matched(table, host, view(path));

  it("matches element by element: /abc matches /abc, /abc/ and /abc/x, never /abcd", () => {
    expect(at("/abc", "q.test")).toBe("only-abc#0.0");
    expect(at("/abc/", "q.test")).toBe("only-abc#0.0");
    expect(at("/abc/x", "q.test")).toBe("only-abc#0.0");
    expect(at("/abc//x", "q.test")).toBe("only-abc#0.0");
    expect(at("/abcd", "q.test")).toBeUndefined();
    expect(at("/ab", "q.test")).toBeUndefined();
    expect(at("/", "q.test")).toBeUndefined();
    expect(at("//", "q.test")).toBeUndefined();
    expect(at("//abc", "q.test")).toBeUndefined();
  });

  it("treats a trailing slash as the same prefix, written longer (so first), and / as every path", () => {
    expect(at("/abc")).toBe("abc-slash#0.0");
    expect(at("/abc/")).toBe("abc-slash#0.0");
    expect(at("/abc/de")).toBe("abc-slash#0.0");
    expect(at("/abc/def")).toBe("deep#0.0");
    expect(at("/abc/def/")).toBe("deep#0.0");
    expect(at("/abc/defg")).toBe("abc-slash#0.0");
    expect(at("/abcd")).toBe("root#0.0");
    expect(at("/")).toBe("root#0.0");
    expect(at("//")).toBe("root#0.0");
    expect(at("//abc")).toBe("root#0.0");
  });
});

/** The linear scan the index replaced: each hostname group sorted, concatenated, the first match. */
function linearScan(routes: Doc[]) {
  interface Linear {
    match: CompiledMatch;
    order: [string, number, number];
  }
  const byHost = new Map<string | undefined, Linear[]>();
  for (const { value } of checked(routes).routes) {
    const entries: Linear[] = [];
    value.spec.rules.forEach((rule, r) =>
      (rule.matches?.length ? rule.matches : [{} as HTTPRouteMatch]).forEach((m, i) => entries.push({ match: compileMatch(m), order: [`default/${value.metadata.name}`, r, i] })),
    );
    for (const hostname of value.spec.hostnames?.length ? value.spec.hostnames : [undefined]) byHost.set(hostname, [...(byHost.get(hostname) ?? []), ...entries]);
  }
  const sorted = (list: Linear[] = []) =>
    [...list].sort(
      (a, b) =>
        comparePrecedence(a.match.precedence, b.match.precedence) ||
        (a.order[0] < b.order[0] ? -1 : a.order[0] > b.order[0] ? 1 : 0) ||
        a.order[1] - b.order[1] ||
        a.order[2] - b.order[2],
    );
  const wildcards = [...byHost.keys()].filter((h): h is string => !!h?.startsWith("*.")).sort((a, b) => b.length - a.length);
  return (host: string, request: RequestView) => {
    const candidates = [...(byHost.has(host) && !host.startsWith("*.") ? sorted(byHost.get(host)) : [])];
    for (const wildcard of wildcards) if (host.endsWith(wildcard.slice(1))) candidates.push(...sorted(byHost.get(wildcard)));
    candidates.push(...sorted(byHost.get(undefined)));
    const hit = candidates.find((entry) => entry.match.test(request));
    return hit && `${hit.order[0].slice("default/".length)}#${hit.order[1]}.${hit.order[2]}`;
  };
}


describe("path index against the linear scan", () => {
  it("picks the same entry as sorting every candidate and testing them in order (randomized, seed 42)", () => {
    const random = prng(42);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const segments = ["a", "b", "ab", "c"];
    const pathOf = (depth: number) => "/" + Array.from({ length: depth }, () => pick(segments)).join("/");
    const hosts = ["a.test", "x.a.test", "y.x.a.test", "other.test", "a.other"];
    const hostnames = [["a.test"], ["x.a.test"], ["*.a.test"], ["*.x.a.test"], ["a.test", "*.a.test"], undefined, undefined];
    const regexes = ["/a/[a-z]+", "/(a|b)/.*", "/ab?", "/.*/c", "/c(/.*)?"];
    const randomMatch = (): Doc => {
      const kind = random();
      const path =
        kind < 0.3
          ? { type: "Exact", value: pathOf(Math.floor(random() * 3)) || "/" }
          : kind < 0.45
            ? { type: "RegularExpression", value: pick(regexes) }
            : { type: "PathPrefix", value: pathOf(Math.floor(random() * 3)) + (random() < 0.2 ? "/" : "") };
      if (path.value === "//") path.value = "/";
      return {
        path,
        ...(random() < 0.2 && { method: pick(["GET", "POST"]) }),
        ...(random() < 0.25 && { headers: [{ name: pick(["x-a", "x-b"]), value: pick(["1", "2"]) }] }),
        ...(random() < 0.15 && { queryParams: [{ name: "q", type: pick(["Exact", "RegularExpression"]), value: pick(["1", "[12]"]) }] }),
      };
    };
    let compared = 0;
    let routed = 0;
    for (let set = 0; set < 30; set++) {
      const routes = Array.from({ length: 5 + Math.floor(random() * 25) }, (_, i) =>
        route(`r${Math.floor(random() * 1000)}-${i}`, pick(hostnames), Array.from({ length: 1 + Math.floor(random() * 3) }, () => Array.from({ length: 1 + Math.floor(random() * 2) }, randomMatch))),
      );
      const table = tableOf(routes);
      const linear = linearScan(routes);
      for (let request = 0; request < 300; request++) {
        const host = pick(hosts);
        const path = pick(["/", "//", "/a/", "/ab/", "/a//b", ""]) || pathOf(1 + Math.floor(random() * 3)) + (random() < 0.2 ? "/" : "");
        const init = {
          method: pick(["GET", "POST"]),
          headers: random() < 0.5 ? { [pick(["x-a", "x-b"])]: pick(["1", "2"]) } : {},
          query: random() < 0.4 ? `q=${pick(["1", "2"])}` : "",
        };
        const expected = linear(host, view(path, init));
        expect(matched(table, host, view(path, init)), `${init.method} ${host}${path} ${JSON.stringify(init)} in set ${set}`).toBe(expected);
        compared++;
        if (expected) routed++;
      }
    }
    // The sets must exercise both outcomes, not only misses.
    expect(routed).toBeGreaterThan(compared / 3);
    expect(routed).toBeLessThan(compared);
  });
});

describe("precedence rank", () => {
  it("orders matches exactly as comparing their precedence keys does (randomized, seed 9)", () => {
    const random = prng(9);
    const some = <T>(items: T[]) => items.slice(0, Math.floor(random() * (items.length + 1)));
    // Path lengths from none to the schema's 1024; a regex's at most what RE2's program bound lets compile.
    const pathOf = (type: "Exact" | "PathPrefix" | "RegularExpression") => ({ type, value: "/" + "x".repeat([0, 4, type === "RegularExpression" ? 90 : 1023][Math.floor(random() * 3)]!) });
    const matches: HTTPRouteMatch[] = Array.from({ length: 400 }, () => ({
      path: pathOf((["Exact", "PathPrefix", "RegularExpression"] as const)[Math.floor(random() * 3)]!),
      ...(random() < 0.5 && { method: "GET" as const }),
      headers: some(Array.from({ length: 16 }, (_, i) => ({ type: "Exact" as const, name: `h${i}`, value: "1" }))),
      queryParams: some(Array.from({ length: 16 }, (_, i) => ({ type: "Exact" as const, name: `q${i}`, value: "1" }))),
    }));
    for (let i = 1; i < matches.length; i++) {
      const [a, b] = [matches[i - 1]!, matches[i]!];
      expect(Math.sign(precedenceRank(a) - precedenceRank(b))).toBe(Math.sign(comparePrecedence(compileMatch(a).precedence, compileMatch(b).precedence)));
    }
  });
});
