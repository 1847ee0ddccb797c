/**
 * The Worker `npm run bench:scale` runs in workerd: each request runs `k` iterations of one operation
 * (a route match, a compile, a balancer pick or build) on structures built by earlier requests, and
 * answers with a checksum. Inside workerd the clocks do not advance during synchronous code, so the
 * Node side times it from outside, by the process's CPU time (bench/scale.ts).
 *
 * Bindings: DOCS, the policy set as validated and normalized (JSON, what the bundle and the KV snapshot
 * carry); ROUTES and HOSTS, how it was generated (bench/scale-policies.ts).
 */
import { parsePolicySet } from "../policies/policy-set.ts";
import { trustedValues, type PolicyValues } from "../policies/normalized.ts";
import type { Balancer, EndpointRuntime } from "../workers/gateway/lb/index.ts";
import { createBalancer } from "../workers/gateway/lb/index.ts";
import { buildMaglevTable } from "../workers/gateway/lb/maglev.ts";
import { prefixSums } from "../workers/gateway/lb/random.ts";
import { EdfSchedule } from "../workers/gateway/lb/round-robin.ts";
import { createIsolateState } from "../workers/gateway/isolate-state.ts";
import { compileTable, type RequestView, type RoutingTable } from "../workers/gateway/table/index.ts";
import { linearCandidates, linearMatch, linearRandom, nginxRoundRobin, type LinearEntry } from "./scale-before.ts";
import { hostOf, scalePolicies, serviceName } from "./scale-policies.ts";

interface Env {
  DOCS?: string;
  ROUTES?: string;
  HOSTS?: string;
}

interface Probe {
  host: string;
  request: RequestView;
  /** "route#rule" the request must land on. */
  expected: string;
  linear: LinearEntry[];
}

interface Routes {
  values: unknown[];
  set: PolicyValues;
  table: RoutingTable;
  probes: Record<"last" | "typical", Probe>;
}

let routes: Routes | undefined;
/** A cold isolate's documents, parsed by its first request. */
let parsed: unknown[] | undefined;

const view = (path: string): RequestView => ({ method: "GET", path, headers: new Headers(), query: new URLSearchParams() });

function routesOf(env: Env): Routes {
  if (routes) return routes;
  const values = JSON.parse(env.DOCS!) as unknown[];
  const set = trustedValues(values);
  const table = compileTable(set, 1, {}, createIsolateState());
  const count = Number(env.ROUTES);
  const hosts = env.HOSTS as "one" | "own";
  const probe = (host: string, linear: LinearEntry[], path: string, expected: LinearEntry): Probe => {
    const request = view(path);
    const name = (entry: LinearEntry | undefined) => entry && `${entry.order[0]}#${entry.order[1]}`;
    const found = table.hosts.match(host, request);
    const got = found && `default/${found.rule.route}#${found.order[1]}`;
    if (got !== name(expected) || name(linearMatch(linear, request)) !== name(expected)) {
      throw new Error(`${host}${path}: the index gives ${got}, the linear scan ${name(linearMatch(linear, request))}, expected ${name(expected)}`);
    }
    return { host, request, expected: name(expected)!, linear };
  };
  // The last entry in precedence of its host (the linear scan's worst case): a plain PathPrefix.
  const lastHost = hostOf(count - 1, hosts);
  const lastLinear = linearCandidates(set, lastHost);
  const last = lastLinear[lastLinear.length - 1]!;
  if (last.match.pathType !== "PathPrefix" || last.match.conditional) throw new Error("the last entry must be a plain PathPrefix");
  // A typical request: a service in the middle, below its prefix, past a header-matched canary rule.
  const middle = Math.floor(count / 2);
  const middleHost = hostOf(middle, hosts);
  const middleLinear = middleHost === lastHost ? lastLinear : linearCandidates(set, middleHost);
  const typicalPath = `/${serviceName(middle)}/items/42`;
  const typical = middleLinear.find((entry) => entry.match.test(view(typicalPath)))!;
  routes = {
    values,
    set,
    table,
    probes: { last: probe(lastHost, lastLinear, last.match.pathKey || "/", last), typical: probe(middleHost, middleLinear, typicalPath, typical) },
  };
  return routes;
}

/**
 * A table's first request, to the last service's host, as far as the gateway takes it before calling
 * out: what a compile leaves for later (the host's path index, built on its first request, with one
 * host every route's; the rule; the backend's endpoints) is counted with the compile.
 */
function firstMatch(table: RoutingTable, env: Env): number {
  const last = Number(env.ROUTES) - 1;
  const entry = table.hosts.match(hostOf(last, env.HOSTS as "one" | "own"), view(`/${serviceName(last)}`))!;
  return entry.rule.targets[0]!.backend.eligible.length;
}

function routeOperation(operation: string, k: number, url: URL, env: Env): number {
  let sum = 0;
  switch (operation) {
    case "match": {
      const { table, probes } = routesOf(env);
      const { host, request } = probes[url.searchParams.get("which") as "last" | "typical"];
      for (let i = 0; i < k; i++) sum += table.hosts.match(host, request)!.order[1];
      return sum;
    }
    case "linear": {
      const { probes } = routesOf(env);
      const { linear, request } = probes[url.searchParams.get("which") as "last" | "typical"];
      for (let i = 0; i < k; i++) sum += linearMatch(linear, request)!.order[1];
      return sum;
    }
    case "compile": {
      // A new version in a warm isolate: from parsed, normalized documents to a table serving its first request.
      const { values } = routesOf(env);
      for (let i = 0; i < k; i++) sum += firstMatch(compileTable(trustedValues(values), i, {}, createIsolateState()), env);
      return sum;
    }
    case "json":
      for (let i = 0; i < k; i++) sum += (JSON.parse(env.DOCS!) as unknown[]).length;
      return sum;
    case "validate": {
      // What the isolate no longer pays: zod over the documents as written.
      const raw = scalePolicies(Number(env.ROUTES), env.HOSTS as "one" | "own").map((value, index) => ({ source: "bench", index, value }));
      for (let i = 0; i < k; i++) sum += parsePolicySet(raw).ok ? 1 : 0;
      return sum;
    }
  }
  throw new Error(`unknown route operation ${operation}`);
}

interface Pool {
  endpoints: EndpointRuntime[];
  balance: Balancer;
  before: Balancer | undefined;
  requests: Request[];
}

const pools = new Map<string, Pool>();

function poolOf(url: URL): Pool {
  const key = url.search;
  let pool = pools.get(key);
  if (pool) return pool;
  const balancer = url.searchParams.get("balancer")!;
  const count = Number(url.searchParams.get("endpoints"));
  const equal = url.searchParams.get("weights") === "equal";
  const endpoints = Array.from({ length: count }, (_, i): EndpointRuntime => {
    const origin = `http://10.0.${i >> 8}.${i & 255}:8080`;
    return { id: origin, origin, weight: equal ? 1 : 1 + ((i * 37) % 128), inFlight: i % 7 };
  });
  const config =
    balancer === "ConsistentHash"
      ? { type: "ConsistentHash" as const, consistentHash: { type: "Header" as const, header: { name: "x-user" } }, tableSize: 65537 }
      : { type: balancer as "RoundRobin" | "Random" | "LeastRequest" };
  const requests = Array.from({ length: 64 }, (_, i) => new Request("http://bench/", { headers: { "x-user": `user-${i}` } }));
  const before = balancer === "RoundRobin" ? nginxRoundRobin() : balancer === "Random" ? linearRandom() : undefined;
  pools.set(key, (pool = { endpoints, balance: createBalancer(config), before, requests }));
  return pool;
}

function balancerOperation(operation: string, k: number, url: URL): number {
  const { endpoints, balance, before, requests } = poolOf(url);
  let sum = 0;
  switch (operation) {
    case "pick":
      for (let i = 0; i < k; i++) sum += balance(endpoints, requests[i & 63]!)!.inFlight;
      return sum;
    case "before":
      for (let i = 0; i < k; i++) sum += before!(endpoints, requests[i & 63]!)!.inFlight;
      return sum;
    case "build": {
      // The per-list structure a pick finds again until the list changes (per-list.ts, maglev.ts).
      const balancer = url.searchParams.get("balancer");
      const ids = endpoints.map((endpoint) => endpoint.id);
      for (let i = 0; i < k; i++) {
        if (balancer === "RoundRobin") sum += new EdfSchedule(endpoints).pick();
        else if (balancer === "Random") sum += prefixSums(endpoints).length;
        else if (balancer === "ConsistentHash") sum += buildMaglevTable(ids, 65537)[0]!;
      }
      return sum;
    }
  }
  throw new Error(`unknown balancer operation ${operation}`);
}

export default {
  fetch(request: Request, env: Env): Response {
    const url = new URL(request.url);
    const [, area, operation] = url.pathname.split("/");
    const k = Number(url.searchParams.get("k") ?? 1);
    try {
      let sum = 0;
      if (area === "empty") sum = 0;
      else if (area === "routes") sum = routeOperation(operation!, k, url, env);
      else if (area === "lb") sum = balancerOperation(operation!, k, url);
      // A cold isolate: the documents parsed by one request (as a KV read would), compiled by the next.
      else if (area === "cold" && operation === "parse") sum = (parsed = JSON.parse(env.DOCS!) as unknown[]).length;
      else if (area === "cold" && operation === "compile") sum = firstMatch(compileTable(trustedValues(parsed!), 1, {}, createIsolateState()), env);
      else if (area === "setup") sum = routesOf(env).table.version;
      else return new Response("not found", { status: 404 });
      return new Response(String(sum));
    } catch (error) {
      return new Response(String((error as Error).stack ?? error), { status: 500 });
    }
  },
};
