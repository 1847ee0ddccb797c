/**
 * The service graph from observed traffic: one edge per (source, destination) over a window, with
 * request rate, success rate (answers below 500, as Linkerd counts success) and latency quantiles
 * from the summed duration histograms. Nodes are SPIFFE IDs ("unknown" for anonymous callers). The
 * busiest `limit` edges are listed; the rest are summed into one, so a large mesh stays readable.
 */
import { FAMILIES } from "../../common/metrics/families.ts";
import { bucketQuantile } from "../../common/metrics/quantile.ts";
import { isServerError, type MetricStore } from "../../common/metrics/store.ts";

export interface GraphEdge {
  source: string;
  destination: string;
  /** The destination as the mesh names it ("details", "shop/cart"). */
  service: string;
  requests: number;
  requestsPerSecond: number;
  successRate: number;
  latencySeconds: { p50: number | null; p95: number | null; p99: number | null };
}

export interface ServiceGraph {
  windowSeconds: number;
  nodes: { id: string }[];
  edges: GraphEdge[];
  /** The edges past `limit`, summed: how many there were and their traffic. */
  others: { edges: number; requests: number } | undefined;
}

const BOUNDS = FAMILIES.requestDuration.buckets;

export function serviceGraph(store: MetricStore, windowSeconds: number, limit: number, destinationId: (service: string) => string): ServiceGraph {
  interface Edge {
    source: string;
    service: string;
    requests: number;
    failures: number;
    buckets: number[];
  }
  const edges = new Map<string, Edge>();
  const edgeOf = (source: string, service: string) => {
    const key = `${source}\u0000${service}`;
    let edge = edges.get(key);
    if (!edge) edges.set(key, (edge = { source, service, requests: 0, failures: 0, buckets: new Array(BOUNDS.length + 1).fill(0) }));
    return edge;
  };
  // Labels by position, as families.ts lists them.
  for (const series of store.read("requests")) {
    const [, principal, service, , code] = series.labels;
    const edge = edgeOf(principal!, service!);
    edge.requests += series.count;
    if (isServerError(code)) edge.failures += series.count;
  }
  for (const series of store.read("requestDuration")) {
    const [, principal, service] = series.labels;
    const edge = edgeOf(principal!, service!);
    for (let i = 0; i < edge.buckets.length; i++) edge.buckets[i]! += series.buckets![i]!;
  }
  const ranked = [...edges.values()].filter((edge) => edge.requests > 0).sort((a, b) => b.requests - a.requests);
  const shown = ranked.slice(0, limit);
  const rest = ranked.slice(limit);
  const quantile = (q: number, buckets: number[]) => {
    const value = bucketQuantile(q, BOUNDS, buckets);
    return Number.isNaN(value) ? null : value;
  };
  const listed: GraphEdge[] = shown.map((edge) => ({
    source: edge.source,
    // A request the mesh answered itself (a redirect, a 404) has no destination.
    destination: edge.service === "unknown" ? "unknown" : destinationId(edge.service),
    service: edge.service,
    requests: edge.requests,
    requestsPerSecond: edge.requests / windowSeconds,
    successRate: (edge.requests - edge.failures) / edge.requests,
    latencySeconds: { p50: quantile(0.5, edge.buckets), p95: quantile(0.95, edge.buckets), p99: quantile(0.99, edge.buckets) },
  }));
  const nodes = new Set<string>();
  for (const edge of listed) nodes.add(edge.source).add(edge.destination);
  return {
    windowSeconds,
    nodes: [...nodes].sort().map((id) => ({ id })),
    edges: listed,
    others: rest.length ? { edges: rest.length, requests: rest.reduce((sum, edge) => sum + edge.requests, 0) } : undefined,
  };
}
