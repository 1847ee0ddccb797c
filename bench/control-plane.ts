/**
 * The gateway's control plane inside the benchmark's workerd. On Cloudflare every isolate of a deploy
 * reaches one namespace per Durable Object class, and the objects run in isolates of their own; here
 * one socket-less Worker made from the gateway bundle hosts ConfigStore, BackendCoordinator,
 * RateLimiter, Issuer and MetricsAggregator, and every gateway Worker (each a separate isolate) binds its namespaces. MESH_KV is left
 * out (workerd has no local KV without Miniflare's KV Worker): the gateway then serves its
 * MESH_POLICIES seed and polls nothing, which is the steady state anyway.
 */
import { readFileSync } from "node:fs";
import type { Binding, Bundle, WorkerSpec } from "./workerd.ts";

/** The admin API's bearer token in the benchmark (the API reports the rate limiters' counters). */
export const ADMIN_TOKEN = "bench-admin-token";

/** Binding name -> class, as in wrangler.toml's [[durable_objects.bindings]]. */
const DURABLE_OBJECTS: Record<string, string> = {
  CONFIG_STORE: "ConfigStore",
  BACKEND_COORDINATOR: "BackendCoordinator",
  RATE_LIMITER: "RateLimiter",
  ISSUER: "Issuer",
  METRICS: "MetricsAggregator",
};
/** Bound only to gateways that ask for identity (gateway_issuer, gateway_secure): without it the caller-token stage is off. */
const IDENTITY_BINDINGS = new Set(["ISSUER"]);
/** Bound only to gateways that ask for observability (gateway_observed): without it the metrics sink records nothing. */
const OBSERVABILITY_BINDINGS = new Set(["METRICS"]);

export interface ControlPlane {
  /** The Worker hosting the Durable Objects (no socket). */
  host: WorkerSpec;
  /**
   * What a gateway Worker binds: the deployed [vars], the Durable Objects, `extra` last (it wins).
   * The Issuer only with `identity` (then also the pinned key, which the Issuer signs with); the
   * MetricsAggregator only with `observability`.
   */
  gatewayBindings(extra: Binding[], options?: { identity?: boolean; observability?: boolean }): Binding[];
}

export interface ControlPlaneOptions {
  /** MESH_ISSUER_KEY for the Issuer: a pinned key, so a benchmark run never waits on key generation. */
  issuerKey?: string;
}

/**
 * `wranglerToml`'s [vars] as text bindings: workerd run directly does not read wrangler.toml, and the
 * gateway should run with the values it is deployed with (HEALTH_REPORT_INTERVAL_MS above all).
 */
export function deployedVars(wranglerToml: string): Binding[] {
  const section = /^\[vars\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(readFileSync(wranglerToml, "utf8"))?.[1] ?? "";
  return [...section.matchAll(/^([A-Z0-9_]+)\s*=\s*"([^"]*)"/gm)].map(([, name, text]) => ({ name: name!, text: text! }));
}

export function controlPlane(name: string, gateway: Bundle, storageDir: string, vars: Binding[], options: ControlPlaneOptions = {}): ControlPlane {
  const objects = Object.entries(DURABLE_OBJECTS).map(([binding, className]): Binding => ({ name: binding, durableObject: { service: name, className } }));
  const key: Binding[] = options.issuerKey ? [{ name: "MESH_ISSUER_KEY", text: options.issuerKey }] : [];
  // The objects read their own env too (the BackendCoordinator calls the ConfigStore on registrations).
  const host: WorkerSpec = { name, bundle: gateway, bindings: [...vars, ...objects, ...key], durableObjects: { classes: Object.values(DURABLE_OBJECTS), dir: storageDir } };
  return {
    host,
    gatewayBindings(extra, { identity = false, observability = false } = {}) {
      const byName = new Map<string, Binding>();
      const bound = [
        ...objects.filter((binding) => (identity || !IDENTITY_BINDINGS.has(binding.name)) && (observability || !OBSERVABILITY_BINDINGS.has(binding.name))),
        ...(identity ? key : []),
      ];
      for (const binding of [...vars, ...bound, { name: "ADMIN_TOKEN", text: ADMIN_TOKEN }, ...extra]) byName.set(binding.name, binding);
      return [...byName.values()];
    },
  };
}

export interface GlobalRuleStats {
  /** Lease calls the rule's RateLimiter objects served, from every isolate. */
  calls: number;
  /** Tokens they granted. */
  granted: number;
}

/** A global rule's counters, summed over its shards, from the admin API (GET /admin/ratelimits). */
export async function globalRuleStats(gatewayPort: number, ruleName: string): Promise<GlobalRuleStats> {
  const response = await fetch(`http://127.0.0.1:${gatewayPort}/admin/ratelimits`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /admin/ratelimits -> ${response.status}: ${text.slice(0, 500)}`);
  const { rules } = JSON.parse(text) as { rules: { name: string; scope: string; global?: GlobalRuleStats }[] };
  const rule = rules.find((r) => r.name === ruleName && r.scope === "global");
  if (!rule?.global) throw new Error(`GET /admin/ratelimits: no global rule named ${ruleName} in ${text.slice(0, 500)}`);
  return { calls: rule.global.calls, granted: rule.global.granted };
}

/** Endpoints of `backend` this gateway isolate's outlier detector has seen outcomes for (admin API). */
export async function detectorEndpoints(gatewayPort: number, backend: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${gatewayPort}/admin/backends/${backend}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /admin/backends/${backend} -> ${response.status}: ${text.slice(0, 500)}`);
  const view = JSON.parse(text) as { health?: { isolate?: { local?: Record<string, unknown> } } };
  return Object.keys(view.health?.isolate?.local ?? {}).length;
}
