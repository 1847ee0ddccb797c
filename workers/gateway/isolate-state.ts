/**
 * What one isolate keeps beyond a request and across routing-table versions: per-backend counters and
 * balancer state, endpoint health, rate limiters. Made once where the isolate starts (index.ts) and
 * passed to the gateway and the admin API, so no module keeps state of its own that others reach into.
 */
import { AuthzAuditLog } from "./authz/audit-log.ts";
import { HealthByBackend } from "./health/backend-health.ts";
import { EndUserKeys } from "./identity/end-users.ts";
import { MeshIdentity } from "./identity/mesh-identity.ts";
import { IsolateMetrics } from "./sinks/metrics.ts";
import { RecentOutcomes } from "./sinks/recent.ts";
import { TraceQueue } from "./sinks/traces.ts";
import { Limiters } from "./ratelimit/index.ts";
import { BackendStates } from "./table/backend-state.ts";

export interface IsolateState {
  readonly backends: BackendStates;
  readonly health: HealthByBackend;
  readonly limiters: Limiters;
  /** The trust bundle and the verified-token cache. */
  readonly identity: MeshIdentity;
  /** Authorization denials waiting for the audit log, and their per-policy rate limits. */
  readonly authzAudit: AuthzAuditLog;
  /** Metrics gathered since the last flush to the metrics shard. */
  readonly metrics: IsolateMetrics;
  /** Spans waiting for export. */
  readonly traces: TraceQueue;
  /** The last outcomes, for the dashboard's live view. */
  readonly recent: RecentOutcomes;
  /** End-user issuers' keys and verifiers (RequestAuthentication). */
  readonly endUsers: EndUserKeys;
}

export const createIsolateState = (): IsolateState => ({
  backends: new BackendStates(),
  health: new HealthByBackend(),
  limiters: new Limiters(),
  identity: new MeshIdentity(),
  authzAudit: new AuthzAuditLog(),
  metrics: new IsolateMetrics(),
  traces: new TraceQueue(),
  recent: new RecentOutcomes(),
  endUsers: new EndUserKeys(),
});
