/**
 * The global rate limit's accuracy: several gateway isolates (separate Workers in one workerd, all
 * binding the same RateLimiter namespace) take load on limited.bench.mesh at once, one wrk each, for
 * long enough to exceed the route's limit several times over. Admissions are counted where they land
 * (the upstream), the Durable Object calls from the rule's own counters (admin API).
 */
import { request } from "node:http";
import { globalRuleStats } from "./control-plane.ts";
import { LIMITED_HOST, LIMITED_PATH, LIMITED_RULE, LIMITED_WINDOW_MS } from "./policies.ts";
import type { Upstreams } from "./upstream.ts";
import { runWrk } from "./wrk.ts";

export const CONNECTIONS_PER_ISOLATE = 16;

export interface RateLimitResult {
  limit: number;
  window_ms: number;
  isolates: number;
  connections_per_isolate: number;
  seconds: number;
  /** Answers wrk received, all isolates together. */
  requests: number;
  /** Requests the gateway let through: counted by the upstream, which nothing else reaches meanwhile. */
  allowed: number;
  /** wrk's count of 2xx answers (allowed requests still in flight when wrk stopped are not in it). */
  wrk_2xx: number;
  /** wrk's 2xx per isolate: each took a share, so the limit really was shared. */
  wrk_2xx_per_isolate: number[];
  denied: number;
  /** allowed / limit: 1 is exact; above 1 is over-admission. */
  accuracy: number;
  /** Tokens the RateLimiter objects granted: allowed + tokens leased but never spent. */
  granted: number;
  do_calls: number;
  do_calls_per_100: number;
  /** The same per 100 allowed requests: denied ones make no calls once an isolate knows the window is spent. */
  do_calls_per_100_allowed: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The window is aligned to the epoch: a run crossing its end would get the limit twice. Wait that out. */
async function awaitRoomInWindow(seconds: number): Promise<void> {
  const left = LIMITED_WINDOW_MS - (Date.now() % LIMITED_WINDOW_MS);
  if (left > (seconds + 10) * 1000) return;
  console.log(`bench: rate limit: the hour ends in ${Math.ceil(left / 1000)} s; waiting for the next one so the run stays in one window`);
  await sleep(left + 1000);
}

/** One request after the run, from each isolate: it must be the gateway's 429 rate_limited, nothing else. */
function assertDenied(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(`http://127.0.0.1:${port}${LIMITED_PATH}`, { agent: false, headers: { host: LIMITED_HOST } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        if (res.statusCode === 429 && body.includes("rate_limited")) resolve();
        else reject(new Error(`rate limit: after the run, port ${port} answered ${res.statusCode} (expected 429 rate_limited): ${body.slice(0, 300)}`));
      });
    });
    req.setTimeout(5000, () => req.destroy(new Error(`rate limit: no answer from port ${port} within 5 s`)));
    req.once("error", reject);
    req.end();
  });
}

export async function measureRateLimit(ports: number[], limit: number, seconds: number, upstreams: Upstreams): Promise<RateLimitResult> {
  await awaitRoomInWindow(seconds);
  console.log(`bench: rate limit: ${ports.length} isolates x ${CONNECTIONS_PER_ISOLATE} connections for ${seconds} s on a global limit of ${limit} per hour`);
  const hitsBefore = upstreams.hits.reduce((a, b) => a + b, 0);
  const window = Math.floor(Date.now() / LIMITED_WINDOW_MS);
  const runs = await Promise.all(
    ports.map((port) => runWrk({ url: `http://127.0.0.1:${port}${LIMITED_PATH}`, host: LIMITED_HOST, connections: CONNECTIONS_PER_ISOLATE, seconds })),
  );
  if (Math.floor(Date.now() / LIMITED_WINDOW_MS) !== window) throw new Error("rate limit: the run crossed the end of the hour window; run again");
  const broken = runs.find((run) => run.socketErrors);
  if (broken) throw new Error(`rate limit: wrk saw socket errors (${broken.socketErrors}); the counts would mean nothing`);
  const requests = runs.reduce((sum, run) => sum + run.requests, 0);
  if (requests <= limit) {
    throw new Error(`rate limit: the isolates served ${requests} requests in ${seconds} s, not more than the limit of ${limit}: ` +
      "nothing was denied (the machine is too busy or BENCH_SECONDS too short)");
  }
  // Leases and health reports still in flight (waitUntil) land before the counters are read.
  await sleep(1000);
  for (const port of ports) await assertDenied(port);
  const allowed = upstreams.hits.reduce((a, b) => a + b, 0) - hitsBefore;
  const denied = runs.reduce((sum, run) => sum + run.non2xx, 0);
  const wrk2xx = requests - denied;
  // Every non-2xx is a 429 unless some allowed request failed: then the upstream saw fewer than wrk's 2xx.
  if (allowed < wrk2xx) throw new Error(`rate limit: wrk got ${wrk2xx} 2xx answers but the upstream saw only ${allowed} requests`);
  const stats = await globalRuleStats(ports[0]!, LIMITED_RULE);
  const per100 = (calls: number, of: number) => Math.round((calls / Math.max(1, of)) * 100 * 1000) / 1000;
  return {
    limit,
    window_ms: LIMITED_WINDOW_MS,
    isolates: ports.length,
    connections_per_isolate: CONNECTIONS_PER_ISOLATE,
    seconds,
    requests,
    allowed,
    wrk_2xx: wrk2xx,
    wrk_2xx_per_isolate: runs.map((run) => run.requests - run.non2xx),
    denied,
    accuracy: Math.round((allowed / limit) * 10_000) / 10_000,
    granted: stats.granted,
    do_calls: stats.calls,
    do_calls_per_100: per100(stats.calls, requests),
    do_calls_per_100_allowed: per100(stats.calls, allowed),
  };
}
