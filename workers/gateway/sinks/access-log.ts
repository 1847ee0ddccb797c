/**
 * Structured access log: one JSON line per request from the outcome record (Workers Logs and Tail
 * Workers read it as it is), with its trace and span ids and the caller's identity. ACCESS_LOG "off"
 * silences it; ACCESS_LOG_SAMPLE_RATIO (0 to 1, default 1) keeps that share of the lines of
 * successful requests, while every error (status ≥ 500, or any answer the mesh made up itself) and
 * every refusal (401, 403, 429) is always logged.
 */
import type { GatewayEnv } from "../env.ts";
import type { OutcomeSink } from "../outcome.ts";

let cachedArg: string | undefined;
let cachedRatio = 1;

function sampleRatio(env: GatewayEnv): number {
  const arg = env.ACCESS_LOG_SAMPLE_RATIO;
  if (arg !== cachedArg) {
    const ratio = Number(arg ?? 1);
    cachedArg = arg;
    cachedRatio = Number.isFinite(ratio) ? Math.min(1, Math.max(0, ratio)) : 1;
  }
  return cachedRatio;
}

export const accessLog: OutcomeSink = (outcome, env) => {
  if (env.ACCESS_LOG === "off") return;
  const always = outcome.status >= 500 || outcome.reason !== undefined || outcome.status === 401 || outcome.status === 403 || outcome.status === 429;
  if (!always) {
    const ratio = sampleRatio(env);
    if (ratio < 1 && Math.random() >= ratio) return;
  }
  const { tries, ...summary } = outcome;
  console.log(JSON.stringify({ level: "info", message: "request", ...summary, tries: tries.length > 1 ? tries : undefined }));
};
