/**
 * Tracing settings, by the OpenTelemetry environment variables' names: OTEL_EXPORTER_OTLP_ENDPOINT
 * (the collector's base URL; spans go to <endpoint>/v1/traces; unset: no export) and
 * OTEL_TRACES_SAMPLER_ARG (the ratio of new traces sampled, 0 to 1; default 1, as the SDK's default
 * parent-based always-on sampler). A caller's sampled flag is followed either way.
 */
import type { GatewayEnv } from "../env.ts";

let cachedArg: string | undefined;
let cachedRatio = 1;

export function traceSampleRatio(env: GatewayEnv): number {
  const arg = env.OTEL_EXPORTER_OTLP_ENDPOINT ? env.OTEL_TRACES_SAMPLER_ARG : undefined;
  if (arg === cachedArg) return cachedRatio;
  const ratio = Number(arg ?? 1);
  cachedArg = arg;
  cachedRatio = Number.isFinite(ratio) ? Math.min(1, Math.max(0, ratio)) : 1;
  return cachedRatio;
}
