/**
 * The demo with identity on, as `npm start` runs it (wrangler dev, the Node origins, fresh bootstrap
 * credentials): the page works through the mesh identities (productpage by its binding, reviews v3 by
 * its workload token toward ratings, details and reviews checking the mesh's caller token), an
 * anonymous call to a STRICT backend is 401 at the gateway, and a call straight to an origin, around
 * the mesh, is 401 at the origin; the pairs policies/bookinfo.yaml forbids (callers identified by
 * workload tokens for the demo's SPIFFE IDs, from credentials made through the admin API) are 403
 * `denied` at the gateway, never reach the service, and are in the audit log. Uses the demo's fixed
 * ports (8787, 9101-9113): it fails at once, saying so, when another `npm start` holds them.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workloadTokens } from "../../client/workload-tokens.ts";
import { Collector } from "../support/collector.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const GATEWAY = 8787;
const ID = (service: string) => `spiffe://edgemesh.local/ns/default/sa/${service}`;
/** A cold start bundles three Workers and the policies (scripts/start.ts allows 90 s itself). */
const READY_BOUND_MS = 120_000;
const STOP_BOUND_MS = 20_000;
/** The admin API's token for the local mesh (scripts/start.ts's default). */
const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? "edgemesh-dev-token";

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

/** Any request over node:http, with a JSON body if given. */
function send(method: string, port: number, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const all = text === undefined ? headers : { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) };
    const req = request({ host: "127.0.0.1", port, path, method, headers: all, agent: false }, (res) => {
      let answer = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (answer += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: answer }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer on ${port}${path} within 10 s`)));
    req.once("error", reject);
    req.end(text);
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

interface AccessLine {
  requestId: string;
  traceId: string;
  status: number;
  reason?: string;
  attempts: number;
  backend?: string;
  endpoint?: string;
  tries?: unknown[];
  authz?: Record<string, unknown>;
  source?: Record<string, unknown>;
}

/** The gateway's access line for a request, from what npm start printed (wrangler passes the gateway's console on). */
async function accessLine(requestId: string): Promise<AccessLine> {
  let found: AccessLine | undefined;
  await until(`the gateway's access line for request ${requestId}`, 10_000, () => {
    for (const line of output.split("\n")) {
      if (!line.includes(requestId) || !line.includes('"message":"request"')) continue;
      try {
        const record = JSON.parse(line.slice(line.indexOf("{"))) as AccessLine;
        if (record.requestId === requestId) found = record;
      } catch {
        // Not the whole line.
      }
    }
    return found !== undefined;
  });
  return found!;
}

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/**
 * A workload token for a demo service's SPIFFE ID, as an operator would give that service one: a
 * bootstrap credential made through the admin API, exchanged at the gateway, then deleted (the token
 * stays valid; .mesh-state keeps no credential of these tests).
 */
async function mintedToken(service: string): Promise<string> {
  const spiffeId = ID(service);
  const create = () => send("POST", GATEWAY, "/admin/identity/credentials", admin, { spiffeId });
  let created = await create();
  if (created.body.includes("credential_exists")) {
    // Left over by a run that was killed before it deleted it.
    await send("DELETE", GATEWAY, `/admin/identity/credentials/${spiffeId}`, admin);
    created = await create();
  }
  if (created.status !== 201) throw new Error(`POST /admin/identity/credentials for ${spiffeId}: ${created.status} ${created.body}`);
  try {
    return await workloadTokens({ gatewayUrl: `http://127.0.0.1:${GATEWAY}`, spiffeId, credential: (JSON.parse(created.body) as { credential: string }).credential }).token();
  } finally {
    await send("DELETE", GATEWAY, `/admin/identity/credentials/${spiffeId}`, admin);
  }
}

describe("npm start: who may call whom, as policies/bookinfo.yaml says", () => {
  const tokens = new Map<string, string>();
  const as = (caller: string, host: string, path: string, headers: Record<string, string> = {}) =>
    get(GATEWAY, path, { host, "edgemesh-workload-token": tokens.get(caller)!, ...headers });
  const requestIdOf = (answer: Answer) => String(answer.headers["x-request-id"]);
  interface Pair {
    caller: string;
    host: string;
    path: string;
    headers: Record<string, string>;
    policy: string;
    /** The Backend routed to, when the route picks one for sure. */
    backend: string | undefined;
  }
  /** The pairs the policies forbid, each with the policy that must name itself in the 403. */
  const FORBIDDEN: Pair[] = [
    { caller: "productpage", host: "ratings.mesh", path: "/ratings/0", headers: {}, policy: "default/ratings", backend: "ratings" },
    { caller: "reviews-v1", host: "details.mesh", path: "/details/0", headers: {}, policy: "default/details", backend: "details" },
    { caller: "details", host: "reviews.mesh", path: "/reviews/0", headers: { "x-canary": "v3" }, policy: "default/reviews", backend: "reviews-v3" },
    { caller: "details", host: "reviews.mesh", path: "/reviews/0", headers: {}, policy: "default/reviews", backend: undefined },
    { caller: "details", host: "ratings.mesh", path: "/ratings/0", headers: {}, policy: "default/ratings", backend: "ratings" },
  ];
  const label = (pair: Pair) => `${pair.caller} → ${pair.host}${pair.headers["x-canary"] ? " (x-canary: v3)" : ""}`;
  const denials: { pair: Pair; requestId: string }[] = [];
  let lastDenialAt = 0;

  beforeAll(async () => {
    for (const service of ["productpage", "details", "reviews-v1"]) tokens.set(service, await mintedToken(service));
  }, 30_000);

  it("lets those identities make the calls it allows (productpage → details, reviews → ratings), which reach the services", async () => {
    const details = await as("productpage", "details.mesh", "/details/0");
    expect(details.status).toBe(200);
    expect(JSON.parse(details.body)).toMatchObject({ caller: ID("productpage") });
    const ratings = await as("reviews-v1", "ratings.mesh", "/ratings/0");
    expect(ratings.status).toBe(200);
    expect(JSON.parse(ratings.body)).toMatchObject({ servedBy: "ratings (Worker)" });
    for (const answer of [details, ratings]) expect((await accessLine(requestIdOf(answer))).attempts).toBeGreaterThanOrEqual(1);
  });

  it("refuses productpage → ratings, reviews → details, details → reviews and details → ratings: 403 denied, naming the policy", async () => {
    for (const pair of FORBIDDEN) {
      const answer = await as(pair.caller, pair.host, pair.path, pair.headers);
      const body = answer.body.startsWith("{") ? (JSON.parse(answer.body) as { error?: unknown }) : {};
      expect([label(pair), answer.status, answer.headers["x-edgemesh-reason"], body.error]).toEqual([
        label(pair),
        403,
        "denied",
        expect.objectContaining({ reason: "denied", message: `denied by AuthorizationPolicy ${pair.policy} (action ALLOW: no rule matches the request)` }),
      ]);
      denials.push({ pair, requestId: requestIdOf(answer) });
    }
    lastDenialAt = Date.now();
  });

  it("a denied call never reaches the service: the gateway made no attempt, and its trace holds the gateway's span alone", async () => {
    expect(denials).toHaveLength(FORBIDDEN.length);
    const traces: string[] = [];
    for (const { pair, requestId } of denials) {
      const line = await accessLine(requestId);
      expect([label(pair), line]).toMatchObject([label(pair), { status: 403, reason: "denied", attempts: 0, authz: { decision: "deny", policy: pair.policy, action: "ALLOW" }, source: { id: ID(pair.caller) } }]);
      expect([label(pair), line.endpoint, line.tries ?? []]).toEqual([label(pair), undefined, []]);
      if (pair.backend) expect([label(pair), line.backend]).toEqual([label(pair), pair.backend]);
      expect(line.traceId).toMatch(/^[0-9a-f]{32}$/);
      traces.push(line.traceId);
    }
    // An allowed call after them, whose trace does show the details origin's span: by the time it is
    // in, and the origins' batch delay (500 ms) has passed thrice since the denials, theirs would be.
    const allowed = await accessLine(requestIdOf(await as("productpage", "details.mesh", "/details/0")));
    await until("the details origin's span of an allowed call", 30_000, () => collector.trace(allowed.traceId).some((span) => span.service.startsWith("details-")));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastDenialAt + 1_500 - Date.now())));
    // Each trace is its denied call's: the gateway's server span, with the call's request id, is in it.
    const serverSpanOf = (i: number) => collector.trace(traces[i]!).some((span) => span.kind === 2 && span.service === "edgemesh-gateway" && span.attributes["edgemesh.request_id"] === denials[i]!.requestId);
    await until("the gateway's server span of every denied call", 10_000, () => traces.every((_, i) => serverSpanOf(i)));
    for (const [i, traceId] of traces.entries()) {
      const { pair } = denials[i]!;
      const spans = collector.trace(traceId);
      expect([label(pair), spans.filter((span) => span.service !== "edgemesh-gateway" || span.kind !== 2).map((span) => `${span.service} ${span.name} kind ${span.kind}`)]).toEqual([label(pair), []]);
    }
  });

  it("the denials are in GET /admin/audit, with the caller as actor", async () => {
    interface Row { actor: string; action: string; detail?: { requestId?: string; policy?: string; policyAction?: string; backend?: string; path?: string } }
    let rows: Row[] = [];
    await until("an audit entry for every denial", 15_000, async () => {
      const answer = await send("GET", GATEWAY, "/admin/audit?limit=500", admin);
      rows = (JSON.parse(answer.body) as { entries: Row[] }).entries ?? [];
      return denials.every(({ requestId }) => rows.some((row) => row.detail?.requestId === requestId));
    });
    for (const { pair, requestId } of denials) {
      const row = rows.find((entry) => entry.detail?.requestId === requestId);
      expect([label(pair), row]).toMatchObject([label(pair), { actor: ID(pair.caller), action: "authz.deny", detail: { policy: pair.policy, policyAction: "ALLOW", path: pair.path, ...(pair.backend && { backend: pair.backend }) } }]);
    }
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
