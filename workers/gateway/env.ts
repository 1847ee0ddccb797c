/** The gateway Worker's bindings and vars, as its code may rely on them. */
/**
 * Bindings and vars a deployment may leave out: no control plane (a bare local run), no demo
 * services, vars left at their defaults. Optional here, so the code that uses them checks first.
 */
type OptionalBinding =
  | "MESH_KV"
  | "CONFIG_STORE"
  | "BACKEND_COORDINATOR"
  | "RATE_LIMITER"
  | "PRODUCTPAGE"
  | "RATINGS"
  | "ACCESS_LOG"
  | "CONFIG_POLL_INTERVAL_MS"
  | "HEALTH_REPORT_INTERVAL_MS"
  | "ISSUER"
  | "MESH_TRUST_DOMAIN"
  | "MESH_TOKEN_LIFETIME_MS"
  | "MESH_KEY_ROTATION_MS"
  | "MESH_KEY_PREPUBLISH_MS"
  | "MESH_KID_REFRESH_INTERVAL_MS"
  | "METRICS"
  | "METRICS_SHARDS"
  | "METRICS_FLUSH_INTERVAL_MS"
  | "ALERTS"
  | "ALERT_EVALUATION_INTERVAL_MS";

/** The gateway's env: wrangler's generated `Env`, with what may be absent marked so. */
export interface GatewayEnv extends Omit<Env, OptionalBinding>, Partial<Pick<Env, OptionalBinding>> {
  /** Policy documents as JSON, replacing the bundled ones (per-environment overrides, tests). */
  MESH_POLICIES?: string;
  /** Bearer token for the admin API: a wrangler secret (`wrangler secret put ADMIN_TOKEN`). */
  ADMIN_TOKEN?: string;
  /** When set, the admin API answers only on this host; /admin on any other host goes to the mesh. */
  ADMIN_HOST?: string;
  /** A private JWK pinning the issuer's signing key (local runs, tests): a wrangler secret. */
  MESH_ISSUER_KEY?: string;
  /** Authorization denials audited per policy per minute per isolate (default 10; sinks/authz-audit.ts). */
  AUTHZ_AUDIT_PER_MINUTE?: string;
  /** OpenTelemetry: the OTLP/HTTP collector's base URL, and the head-sampling ratio (tracing/config.ts). */
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  /** An optional Workers Analytics Engine dataset: one data point per request (sinks/analytics.ts). */
  ANALYTICS?: AnalyticsEngineDataset;
  /** The share of successful requests' access-log lines kept (sinks/access-log.ts). */
  ACCESS_LOG_SAMPLE_RATIO?: string;
  /** "on": answers carry Server-Timing with the mesh's own time and the upstream's. */
  SERVER_TIMING?: string;
  OTEL_TRACES_SAMPLER_ARG?: string;
  OTEL_SERVICE_NAME?: string;
  OTEL_BSP_MAX_QUEUE_SIZE?: string;
  OTEL_BSP_SCHEDULE_DELAY?: string;
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE?: string;
}
