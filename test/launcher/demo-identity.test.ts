/**
 * The demo with identity on, as `npm start` runs it (wrangler dev, the Node origins, fresh bootstrap
 * credentials): the page works through the mesh identities (productpage by its binding, reviews v3 by
 * its workload token toward ratings, details and reviews checking the mesh's caller token), an
 * anonymous call to a STRICT backend is 401 at the gateway, and a call straight to an origin, around
 * the mesh, is 401 at the origin. Uses the demo's fixed ports (8787, 9101-9113): it fails at once,
 * saying so, when another `npm start` holds them.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Collector } from "../support/collector.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const GATEWAY = 8787;
const ID = (service: string) => `spiffe://edgemesh.local/ns/default/sa/${service}`;
/** A cold start bundles three Workers and the policies (scripts/start.ts allows 90 s itself). */
const READY_BOUND_MS = 120_000;
const STOP_BOUND_MS = 20_000;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** GET over node:http, which (unlike fetch) sends the Host header it is given. */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer on ${port}${path} within 10 s`)));
    req.once("error", reject);
    req.end();
  });
}

const serving = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });

let npm: ChildProcess | undefined;
let output = "";
/** A loopback OTLP collector: npm start passes OTEL_EXPORTER_OTLP_ENDPOINT to the gateway and the origins. */
let collector: Collector;

async function until(what: string, boundMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${boundMs} ms. npm start said:\n${output.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

beforeAll(async () => {
  collector = await Collector.start();
  // Its own process group, so that afterAll stops exactly what this test started.
  npm = spawn("npm", ["start"], { cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_update_notifier: "false", OTEL_EXPORTER_OTLP_ENDPOINT: collector.url } });
  npm.stdout!.on("data", (chunk: Buffer) => (output += chunk));
  npm.stderr!.on("data", (chunk: Buffer) => (output += chunk));
  await until("npm start says the mesh is ready", READY_BOUND_MS, () => {
    if (npm!.exitCode !== null) throw new Error(`npm start exited (${npm!.exitCode}):\n${output.slice(-3000)}`);
    return output.includes("edgemesh demo mesh ready");
  });
}, READY_BOUND_MS + 10_000);

afterAll(async () => {
  if (!npm?.pid) return;
  try {
    process.kill(-npm.pid, "SIGTERM");
  } catch {
    // Gone already.
  }
  // The launcher stops wrangler's group; the port is free once workerd is gone.
  await until("port 8787 is free after npm start stopped", STOP_BOUND_MS, async () => !(await serving(GATEWAY)));
  await collector?.close();
}, STOP_BOUND_MS + 5_000);

describe("npm start with identity on", () => {
  it("serves the page through the mesh identities", async () => {
    const page = await get(GATEWAY, "/productpage?format=json", { "x-canary": "v3" });
    expect(page.status).toBe(200);
    const { details, reviews } = JSON.parse(page.body) as {
      details: { status: number; data: { caller: string } };
      reviews: { status: number; data: { caller: string; version: string; ratingsError?: string; reviews: { rating?: unknown }[] } };
    };
    // productpage is identified by its binding's props; details and reviews saw it in the caller token.
    expect(details).toMatchObject({ status: 200, data: { caller: ID("productpage") } });
    expect(reviews).toMatchObject({ status: 200, data: { caller: ID("productpage"), version: "v3" } });
    // reviews v3 reached ratings (STRICT) with the workload token its bootstrap credential got it.
    expect(reviews.data.ratingsError).toBeUndefined();
    expect(reviews.data.reviews[0]!.rating).toEqual({ stars: 5, color: "red" });
  });

  it("refuses an anonymous call to details at the gateway with 401 missing_token", async () => {
    const answer = await get(GATEWAY, "/details/0", { host: "details.mesh" });
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe('Edgemesh-Workload-Token error="missing_token"');
    expect(JSON.parse(answer.body).error.reason).toBe("unauthenticated");
  });

  it("refuses a call straight to a details origin, around the mesh, with 401", async () => {
    const answer = await get(9101, "/details/0");
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe('Edgemesh-Caller-Token error="missing_token"');
    // A mesh token for someone else (demo-client's, addressed to the gateway) is no caller token for details.
    const token = demoToken();
    const forged = await get(9101, "/details/0", { "edgemesh-caller-token": token });
    expect(forged.status).toBe(401);
    expect(forged.headers["www-authenticate"]).toBe('Edgemesh-Caller-Token error="wrong_audience"');
  });

  it("lets demo-client call details with the token `npm run -s demo-token` prints", async () => {
    const answer = await get(GATEWAY, "/details/0", { host: "details.mesh", "edgemesh-workload-token": demoToken() });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ caller: ID("demo-client") });
  });
});

function demoToken(): string {
  const run = spawnSync("npm", ["run", "-s", "demo-token"], { cwd: root, encoding: "utf8", timeout: 30_000 });
  if (run.status !== 0) throw new Error(`npm run -s demo-token failed (${run.status}): ${run.stderr}`);
  return run.stdout.trim();
}

describe("npm start with tracing on", () => {
  it("yields one trace per page load, spans of the gateway and the Node origins linked parent to child across every hop", async () => {
    const page = await get(GATEWAY, "/productpage?format=json", { "x-canary": "v3" });
    expect(page.status).toBe(200);
    const requestId = String(page.headers["x-request-id"]);
    // The trace of this page load: the gateway's first server span carries the request id.
    let traceId: string | undefined;
    const gatewayServers = () => collector.trace(traceId!).filter((span) => span.kind === 2 && span.service === "edgemesh-gateway");
    await until("the page's trace at the collector, with reviews v3's call to ratings", 30_000, () => {
      traceId ??= collector.spans.find((span) => span.attributes["edgemesh.request_id"] === requestId)?.traceId;
      if (!traceId) return false;
      const services = new Set(collector.trace(traceId).map((span) => span.service));
      return services.has("reviews-v3") && [...services].some((name) => name.startsWith("details-")) && gatewayServers().length >= 4;
    });
    const spans = collector.trace(traceId!);
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    const roots = spans.filter((span) => !span.parentSpanId);
    expect(roots.map((span) => [span.service, span.attributes["edgemesh.backend"]])).toEqual([["edgemesh-gateway", "productpage"]]);
    // Every other span's parent is in the same trace: nothing is orphaned at any hop.
    expect(spans.filter((span) => span.parentSpanId && !byId.has(span.parentSpanId)).map((span) => `${span.service} ${span.name}`)).toEqual([]);
    expect(new Set(gatewayServers().map((span) => span.attributes["edgemesh.backend"]))).toEqual(new Set(["productpage", "details", "reviews-v3", "ratings"]));
    // The origins' server spans are children of the gateway's client spans (its attempts).
    const origins = spans.filter((span) => span.service !== "edgemesh-gateway" && span.kind === 2);
    expect(origins.length).toBeGreaterThanOrEqual(2);
    for (const origin of origins) expect(byId.get(origin.parentSpanId!)).toMatchObject({ service: "edgemesh-gateway", kind: 3 });
    // reviews v3's own client span is the parent of the gateway's hop to ratings.
    const ratingsHop = gatewayServers().find((span) => span.attributes["edgemesh.backend"] === "ratings")!;
    expect(byId.get(ratingsHop.parentSpanId!)).toMatchObject({ service: "reviews-v3", kind: 3 });
  }, 45_000);
});
