/**
 * Tracing settings, by the OpenTelemetry environment variables' names: OTEL_EXPORTER_OTLP_ENDPOINT
 * (the collector's base URL; spans go to <endpoint>/v1/traces; unset: no export) and
 * OTEL_TRACES_SAMPLER_ARG (the ratio of new traces sampled, 0 to 1; default 1, as the SDK's default
 * parent-based always-on sampler). A caller's sampled flag is followed either way.
 */
import type { GatewayEnv } from "../env.ts";
import { ratioVar } from "../ratio-var.ts";

const samplerArg = ratioVar();

export const traceSampleRatio = (env: GatewayEnv): number => samplerArg(env.OTEL_EXPORTER_OTLP_ENDPOINT ? env.OTEL_TRACES_SAMPLER_ARG : undefined);
