/**
 * The outlier-detection state machine, per endpoint: healthy → ejected (on consecutive failures or a
 * failure percentage) → probing (half-open, when the ejection time is over) → healthy again after
 * enough successes, or ejected again, for longer, on the first failure. Pure: the per-backend Durable
 * Object runs it over every isolate's reports, and each isolate runs it over its own requests.
 */
import type { PassiveHealthCheck } from "../policies/schema/index.ts";
import { durationToMs } from "../policies/schema/index.ts";

export interface OutlierConfig {
  consecutive5xx: number;
  consecutiveGateway: number;
  intervalMs: number;
  failurePercentage: { threshold: number; requestVolume: number } | undefined;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectionPercent: number;
  halfOpenSuccesses: number;
}

export function outlierConfig(passive: PassiveHealthCheck): OutlierConfig {
  return {
    consecutive5xx: passive.consecutive5XxErrors,
    consecutiveGateway: passive.consecutiveGatewayErrors,
    intervalMs: durationToMs(passive.interval),
    failurePercentage: passive.failurePercentage,
    baseEjectionMs: durationToMs(passive.baseEjectionTime),
    maxEjectionMs: durationToMs(passive.maxEjectionTime),
    maxEjectionPercent: passive.maxEjectionPercent,
    halfOpenSuccesses: passive.halfOpenSuccesses,
  };
}

/** What happened on one endpoint since the last report, in order-preserving summary form. */
export interface EndpointReport {
  endpoint: string;
  total: number;
  /** 5xx answers and local failures (reset, timeout). */
  failures: number;
  /** 502, 503, 504 and local failures. */
  gatewayFailures: number;
  /** Failures at the end of the batch, after its last success (all of them when nothing succeeded). */
  trailingFailures: number;
  trailingGatewayFailures: number;
}

export interface EndpointHealth {
  state: "healthy" | "ejected" | "probing";
  /** Times ejected, decaying by one per interval spent healthy (Envoy's ejection multiplier). */
  ejections: number;
  ejectedUntil: number;
  lastChangeAt: number;
  consecutive5xx: number;
  consecutiveGateway: number;
  probeSuccesses: number;
  windowStart: number;
  windowTotal: number;
  windowFailures: number;
}

export const freshHealth = (now: number): EndpointHealth => ({
  state: "healthy",
  ejections: 0,
  ejectedUntil: 0,
  lastChangeAt: now,
  consecutive5xx: 0,
  consecutiveGateway: 0,
  probeSuccesses: 0,
  windowStart: now,
  windowTotal: 0,
  windowFailures: 0,
});

/** How many of `total` endpoints may be ejected at once: maxEjectionPercent, at least one, never all. */
export const maxEjectable = (config: OutlierConfig, total: number) =>
  Math.min(total - 1, Math.max(1, Math.floor((total * config.maxEjectionPercent) / 100)));

/** Applies reports to the endpoints' states; returns the endpoints whose state changed. */
export function applyReports(
  config: OutlierConfig,
  states: Map<string, EndpointHealth>,
  totalEndpoints: number,
  reports: readonly EndpointReport[],
  now: number,
): Set<string> {
  const changed = new Set<string>();
  for (const report of reports) {
    const health = states.get(report.endpoint) ?? freshHealth(now);
    states.set(report.endpoint, health);
    changed.add(report.endpoint);
    if (health.state === "ejected") continue;
    if (health.state === "probing") {
      // A failed probe ejects again, for longer, unless maxEjectionPercent is reached meanwhile (another
      // endpoint was ejected while this one was probed): then it stays in service, probed afresh.
      if (report.failures > 0) {
        if (ejectedCount(states) < maxEjectable(config, totalEndpoints)) eject(config, health, now);
        else health.probeSuccesses = 0;
      } else if ((health.probeSuccesses += report.total) >= config.halfOpenSuccesses) recover(health, now);
      continue;
    }
    count(config, health, report, now);
    if (isOutlier(config, health) && ejectedCount(states) < maxEjectable(config, totalEndpoints)) eject(config, health, now);
  }
  return changed;
}

/** Ends ejections whose time is up: those endpoints are probed (half-open). Returns the ones changed. */
export function expireEjections(states: Map<string, EndpointHealth>, now: number): Set<string> {
  const changed = new Set<string>();
  for (const [endpoint, health] of states) {
    if (health.state === "ejected" && health.ejectedUntil <= now) {
      health.state = "probing";
      health.probeSuccesses = 0;
      health.lastChangeAt = now;
      changed.add(endpoint);
    }
  }
  return changed;
}

/** When the next ejection ends, if any is running. */
export function nextEjectionEnd(states: Map<string, EndpointHealth>): number | undefined {
  let next: number | undefined;
  for (const health of states.values()) {
    if (health.state === "ejected" && (next === undefined || health.ejectedUntil < next)) next = health.ejectedUntil;
  }
  return next;
}

function ejectedCount(states: Map<string, EndpointHealth>): number {
  let ejected = 0;
  for (const health of states.values()) if (health.state === "ejected") ejected++;
  return ejected;
}

function count(config: OutlierConfig, health: EndpointHealth, report: EndpointReport, now: number): void {
  const anySuccess = report.total > report.failures;
  health.consecutive5xx = anySuccess ? report.trailingFailures : health.consecutive5xx + report.failures;
  const anyNonGateway = report.total > report.gatewayFailures;
  health.consecutiveGateway = anyNonGateway ? report.trailingGatewayFailures : health.consecutiveGateway + report.gatewayFailures;
  if (now - health.windowStart >= config.intervalMs) {
    health.windowStart = now;
    health.windowTotal = 0;
    health.windowFailures = 0;
  }
  health.windowTotal += report.total;
  health.windowFailures += report.failures;
}

function isOutlier(config: OutlierConfig, health: EndpointHealth): boolean {
  if (config.consecutive5xx > 0 && health.consecutive5xx >= config.consecutive5xx) return true;
  if (config.consecutiveGateway > 0 && health.consecutiveGateway >= config.consecutiveGateway) return true;
  const percentage = config.failurePercentage;
  return (
    percentage !== undefined &&
    health.windowTotal >= percentage.requestVolume &&
    (health.windowFailures * 100) / health.windowTotal >= percentage.threshold
  );
}

function eject(config: OutlierConfig, health: EndpointHealth, now: number): void {
  if (health.state === "healthy") {
    const healthyIntervals = Math.floor((now - health.lastChangeAt) / config.intervalMs);
    health.ejections = Math.max(0, health.ejections - healthyIntervals);
  }
  health.ejections++;
  health.state = "ejected";
  health.ejectedUntil = now + Math.min(config.baseEjectionMs * health.ejections, Math.max(config.baseEjectionMs, config.maxEjectionMs));
  health.lastChangeAt = now;
  health.consecutive5xx = 0;
  health.consecutiveGateway = 0;
  health.windowTotal = 0;
  health.windowFailures = 0;
}

function recover(health: EndpointHealth, now: number): void {
  health.state = "healthy";
  health.lastChangeAt = now;
  health.probeSuccesses = 0;
  health.windowStart = now;
}
