/** Structured access log: one JSON line per request, from the outcome record (Workers Logs indexes JSON). */
import type { OutcomeSink } from "../outcome.ts";

export const accessLog: OutcomeSink = (outcome, env) => {
  if (env.ACCESS_LOG === "off") return;
  const { tries, ...summary } = outcome;
  console.log(JSON.stringify({ level: "info", message: "request", ...summary, tries: tries.length > 1 ? tries : undefined }));
};
