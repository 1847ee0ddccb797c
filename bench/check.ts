/**
 * Before measuring, each target answers once as it should: 200 with the upstream's body. For the
 * gateway and the peer, the answer must also come through the benchmarked rule and the balancer must
 * reach all three endpoints; a proxy answering 404 or 502 quickly would otherwise look like a fast one.
 */
import { request } from "node:http";
import { detectorEndpoints } from "./control-plane.ts";
import { BENCH_ROUTE, BENCH_RULE } from "./policies.ts";
import { BODY, PORT_HEADER, type Upstreams } from "./upstream.ts";

export type TargetName = "direct" | "passthrough" | "peer_hono" | "gateway" | "gateway_nolog" | "gateway_plain" | "gateway_secure" | "gateway_observed";

export interface Target {
  name: TargetName;
  url: string;
  /** Host header to send (the gateway and the peer route by it). */
  host?: string;
  /** Routes the benchmark's 50 routes (gateway, peer): answers name the route and a request id, and spread over the endpoints. */
  routed?: boolean;
  /** Set for the gateway: whether its access log is on, and its health checking and global rate limit. */
  gateway?: { accessLog: boolean; controlPlane: boolean };
  /** More request headers; gateway_secure's workload token (the check also asks without them: 401). */
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function probe(url: string, host: string | undefined, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { ...headers, ...(host && { host }) } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`no answer from ${url} within 5 s`)));
    req.once("error", reject);
    req.end();
  });
}

export async function checkTarget(target: Target, upstreams: Upstreams): Promise<void> {
  if (target.headers) {
    // gateway_secure: STRICT must really be on (an anonymous call is refused) ...
    const anonymous = await probe(target.url, target.host);
    if (anonymous.status !== 401) throw new Error(`${target.name}: a call without a workload token answered ${anonymous.status}, expected 401 (peerAuthentication STRICT)`);
  }
  const tokensBefore = upstreams.withCallerToken.count;
  const seen = new Set<number>();
  // Enough tries that a balancer spreading over three endpoints reaches each of them.
  const tries = target.routed ? 30 : 1;
  for (let i = 0; i < tries; i++) {
    const answer = await probe(target.url, target.host, target.headers);
    const fail = (why: string) =>
      new Error(`${target.name}: ${why}\n  GET ${target.url}${target.host ? ` (Host: ${target.host})` : ""} -> ${answer.status}\n` +
        `  headers: ${JSON.stringify(answer.headers)}\n  body: ${answer.body.slice(0, 500)}`);
    if (answer.status !== 200 || answer.body !== BODY) throw fail("expected 200 with the upstream's body");
    const port = Number(answer.headers[PORT_HEADER]);
    if (!upstreams.ports.includes(port)) throw fail(`the answer did not come from an upstream endpoint`);
    seen.add(port);
    if (target.routed) {
      if (!answer.headers["x-request-id"]) throw fail("no x-request-id: the proxy did not handle the request");
      if (answer.headers["x-mesh-route"] !== BENCH_ROUTE) throw fail(`the request did not match route ${BENCH_ROUTE}`);
    }
    if (target.gateway) {
      // The global rule answers with its RateLimit-Policy: proof that the request took a leased token.
      const limited = String(answer.headers["ratelimit-policy"] ?? "").includes(`"${BENCH_RULE}"`);
      if (limited !== target.gateway.controlPlane) throw fail(`the global rate limit ${BENCH_RULE} is ${limited ? "on" : "off"}, expected the opposite`);
    }
  }
  // ... and every call with the token reaches the upstream with the mesh's caller token.
  const withToken = upstreams.withCallerToken.count - tokensBefore;
  if (target.headers && withToken !== tries) throw new Error(`${target.name}: ${withToken} of ${tries} requests reached the upstream with an edgemesh-caller-token`);
  if (target.routed && seen.size !== upstreams.ports.length) {
    throw new Error(`${target.name}: ${tries} requests reached only endpoints ${[...seen].join(", ")} of ${upstreams.ports.join(", ")}`);
  }
  if (target.gateway) {
    // With health checking on, every attempt feeds the isolate's outlier detector (the breaker).
    const fed = await detectorEndpoints(Number(new URL(target.url).port), "orders");
    const expected = target.gateway.controlPlane ? upstreams.ports.length : 0;
    if (fed !== expected) throw new Error(`${target.name}: the outlier detector has outcomes for ${fed} endpoints of orders, expected ${expected}`);
  }
}
