/**
 * A backend's endpoint health as one isolate sees it: its own outlier detector (it trips at once on
 * this isolate's evidence) merged with the ejections the backend's Durable Object decided from every
 * isolate's reports. Kept per backend name across config versions, so recompiling the routing table
 * forgets no ejection. Read on every request through `eligible`, which is cached until the next
 * ejection ends.
 */
import type { HealthSnapshot } from "../../../common/protocol.ts";
import {
  applyReports,
  expireEjections,
  maxEjectable,
  type EndpointHealth,
  type EndpointReport,
  type OutlierConfig,
} from "../../../common/outlier-detection.ts";
import type { EndpointRuntime } from "../lb/index.ts";

import type { Failure } from "../attempt/classify.ts";

export class BackendHealth {
  config: OutlierConfig | undefined;
  /** Endpoint ids the backend has in the current routing table. */
  endpointIds: string[] = [];
  private readonly local = new Map<string, EndpointHealth>();
  private global: HealthSnapshot = { version: -1, endpoints: {} };
  private pending = new Map<string, EndpointReport>();
  private cache: { endpoints: readonly EndpointRuntime[]; eligible: readonly EndpointRuntime[]; validUntil: number } | undefined;
  lastReportAt = 0;
  /** A report is on its way or waiting for its interval: later outcomes just add to it. */
  reportScheduled = false;

  /** Endpoints a balancer may pick now: not ejected here or globally, within maxEjectionPercent. */
  eligible(endpoints: readonly EndpointRuntime[], now: number): readonly EndpointRuntime[] {
    const cached = this.cache;
    if (cached && cached.endpoints === endpoints && now < cached.validUntil) return cached.eligible;
    if (expireEjections(this.local, now).size) this.cache = undefined;
    let validUntil = Infinity;
    const ejected: { endpoint: EndpointRuntime; until: number }[] = [];
    for (const endpoint of endpoints) {
      const until = Math.max(this.local.get(endpoint.id)?.state === "ejected" ? this.local.get(endpoint.id)!.ejectedUntil : 0, this.globalUntil(endpoint.id));
      if (until > now) {
        ejected.push({ endpoint, until });
        validUntil = Math.min(validUntil, until);
      }
    }
    let eligible: readonly EndpointRuntime[] = endpoints;
    if (ejected.length && this.config) {
      // Never more than maxEjectionPercent out: the endpoints whose ejection ends soonest come back first.
      const keepOut = new Set(ejected.sort((a, b) => b.until - a.until).slice(0, maxEjectable(this.config, endpoints.length)).map((e) => e.endpoint));
      eligible = endpoints.filter((endpoint) => !keepOut.has(endpoint));
    }
    this.cache = { endpoints, eligible, validUntil };
    return eligible;
  }

  /** One attempt's result on one endpoint: feeds the local detector and the next report. Whether it ejected the endpoint. */
  record(endpoint: string, failure: Failure, now: number): boolean {
    const report = this.pending.get(endpoint) ?? { endpoint, total: 0, failures: 0, gatewayFailures: 0, trailingFailures: 0, trailingGatewayFailures: 0 };
    this.pending.set(endpoint, report);
    report.total++;
    const failed = failure !== "none" ? 1 : 0;
    const gateway = failure === "gateway" ? 1 : 0;
    report.failures += failed;
    report.gatewayFailures += gateway;
    report.trailingFailures = failed ? report.trailingFailures + 1 : 0;
    report.trailingGatewayFailures = gateway ? report.trailingGatewayFailures + 1 : 0;
    if (!this.config) return false;
    const single: EndpointReport = { endpoint, total: 1, failures: failed, gatewayFailures: gateway, trailingFailures: failed, trailingGatewayFailures: gateway };
    const before = this.local.get(endpoint)?.state;
    applyReports(this.config, this.local, this.endpointIds.length, [single], now);
    const after = this.local.get(endpoint)?.state;
    if (after === before) return false;
    this.cache = undefined;
    return after === "ejected";
  }

  /** Set by each routing-table compile: the backend's outlier settings (undefined: no detection). */
  configure(config: OutlierConfig | undefined, endpointIds: string[]): void {
    this.config = config;
    this.endpointIds = endpointIds;
    this.cache = undefined;
    // Endpoints that left the backend leave no state behind.
    const current = new Set(endpointIds);
    for (const endpoint of this.local.keys()) if (!current.has(endpoint)) this.local.delete(endpoint);
  }

  /** Takes the stats gathered since the last report. */
  drainReports(): EndpointReport[] {
    const reports = [...this.pending.values()];
    this.pending = new Map();
    return reports;
  }

  applySnapshot(snapshot: HealthSnapshot): void {
    if (snapshot.version === this.global.version) return;
    this.global = snapshot;
    this.cache = undefined;
  }

  /** Local and global state, for the admin API and tests. */
  describe() {
    return { local: Object.fromEntries(this.local), global: this.global };
  }

  private globalUntil(endpoint: string): number {
    const state = this.global.endpoints[endpoint];
    return state?.state === "ejected" ? state.until : 0;
  }
}

/** Every backend's health in one isolate, by backend name (part of the IsolateState): survives routing-table recompiles. */
export class HealthByBackend {
  private readonly health = new Map<string, BackendHealth>();

  of(backend: string): BackendHealth {
    let health = this.health.get(backend);
    if (!health) this.health.set(backend, (health = new BackendHealth()));
    return health;
  }

  /** Only for backends this isolate has health for; does not create one. */
  find(backend: string): BackendHealth | undefined {
    return this.health.get(backend);
  }
}
