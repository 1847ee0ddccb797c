/**
 * `npm start`: the gateway and the bookinfo demo mesh (policies/bookinfo.yaml) on 127.0.0.1.
 *  - Node origins in this process: details on 9101-9103 (details-c fails half its requests), a spare
 *    details-d on 9104 that is in no policy (register it at run time through the admin API), and
 *    reviews v1/v2/v3 on 9111-9113;
 *  - one `wrangler dev` running the gateway (port 8787) with the productpage and ratings Workers,
 *    which it reaches over service bindings, in a supervised process group (scripts/launcher/);
 *  - identity on (scripts/demo/identity.ts): fresh bootstrap credentials for reviews v2/v3 and for
 *    `demo-client` (the gateway gets their hashes), every origin refusing calls not through the mesh,
 *    and the Issuer rotating its signing key every minute so that rotation can be watched.
 * Ctrl-C, SIGTERM or SIGHUP stops all of it; so does the death of npm, and wrangler and workerd die
 * with this process even when it is killed with SIGKILL. Nothing reads the terminal: `nohup npm start
 * > log 2>&1 &` from a script keeps running after the script's shell exits. See docs/demo.md.
 */
import type { Server } from "node:http";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { workloadTokens } from "../client/workload-tokens.ts";
import { startDetails, type DetailsEndpoint } from "./demo/details.ts";
import { DEMO_CLIENT, DEMO_CLIENT_FILE, makeCredentials, originVerifier, spiffeId, writeClientCredential, type Credentials } from "./demo/identity.ts";
import { startReviews, type ReviewsVersion } from "./demo/reviews.ts";
import { shutdownTelemetry } from "./demo/telemetry.ts";
import { createLauncher, type SupervisedGroup } from "./launcher/index.ts";

const HOST = "127.0.0.1";
const GATEWAY_PORT = 8787;
const DETAILS: DetailsEndpoint[] = [
  { name: "details-a", port: 9101, zone: "a", failureRate: 0 },
  { name: "details-b", port: 9102, zone: "b", failureRate: 0 },
  { name: "details-c", port: 9103, zone: "c", failureRate: 0.5 },
  { name: "details-d", port: 9104, zone: "d", failureRate: 0 },
];
const REVIEWS: { version: ReviewsVersion; port: number; callsRatings: boolean }[] = [
  { version: "v1", port: 9111, callsRatings: false },
  { version: "v2", port: 9112, callsRatings: true },
  { version: "v3", port: 9113, callsRatings: true },
];
const GATEWAY_URL = `http://${HOST}:${GATEWAY_PORT}`;
/** Where wrangler keeps the mesh's state (Durable Objects, KV) between starts. */
const PERSIST_DIR = ".mesh-state";
/**
 * The Issuer's schedule for the demo: a new signing key every minute, published 20 s before it
 * signs (origins re-read the JWKS every 10 s, half of that), so docs/demo.md can show a rotation
 * under traffic. Deployed, the defaults are 24 h and 10 min (wrangler.toml). Each can be overridden
 * from the environment of `npm start`.
 */
const KEY_ROTATION_MS = process.env.MESH_KEY_ROTATION_MS ?? "60000";
const KEY_PREPUBLISH_MS = process.env.MESH_KEY_PREPUBLISH_MS ?? "20000";
/** Tokens live wrangler.toml's 5 min unless set; shorter shows each new key's tokens in use sooner. */
const TOKEN_LIFETIME_MS = process.env.MESH_TOKEN_LIFETIME_MS;
const WRANGLER_CONFIGS = ["wrangler.toml", "workers/demo/productpage.toml", "workers/demo/ratings.toml"];
/** The admin API's token for this local mesh; `npm run mesh` uses the same default. */
const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? "edgemesh-dev-token";
/** A cold start builds three Workers and runs the policy bundler first. */
const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 5_000;

const root = fileURLToPath(new URL("..", import.meta.url));
const servers: Server[] = [];
const launcher = createLauncher("start");
let wrangler: SupervisedGroup | undefined;

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, HOST, () => probe.close(() => resolve(true)));
  });
}

/** Checks every port up front, so that a busy one fails the start before anything runs. */
async function checkPorts(): Promise<void> {
  const ports = [GATEWAY_PORT, ...DETAILS.map((d) => d.port), ...REVIEWS.map((r) => r.port)];
  const busy = [];
  for (const port of ports) if (!(await portIsFree(port))) busy.push(port);
  if (busy.length) {
    throw new Error(
      `port${busy.length > 1 ? "s" : ""} ${busy.join(", ")} on ${HOST} ${busy.length > 1 ? "are" : "is"} already in use ` +
        `(another \`npm start\`?). Find the owner with: ss -ltnp 'sport = :${busy[0]}'`,
    );
  }
}

function startWrangler(credentials: Credentials): SupervisedGroup {
  const args = ["dev", ...WRANGLER_CONFIGS.flatMap((config) => ["-c", config])];
  args.push("--ip", HOST, "--port", String(GATEWAY_PORT), "--persist-to", PERSIST_DIR, "--var", `ADMIN_TOKEN:${ADMIN_TOKEN}`);
  // Hashes only (the secrets stay in this process): harmless in a process list.
  const vars = { MESH_WORKLOAD_CREDENTIALS: credentials.hashes, MESH_KEY_ROTATION_MS: KEY_ROTATION_MS, MESH_KEY_PREPUBLISH_MS: KEY_PREPUBLISH_MS, ...(TOKEN_LIFETIME_MS && { MESH_TOKEN_LIFETIME_MS: TOKEN_LIFETIME_MS }) };
  for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
  // Tracing, by the OpenTelemetry variables' names, from this environment to the gateway (the Node
  // origins read them here, scripts/demo/telemetry.ts).
  for (const name of ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_SAMPLER_ARG"]) if (process.env[name]) args.push("--var", `${name}:${process.env[name]}`);
  // No stdin (the group's watchdog gives it none): wrangler's hotkeys would take over the terminal.
  return launcher.spawn("wrangler", process.execPath, [fileURLToPath(import.meta.resolve("wrangler/bin/wrangler.js")), ...args], {
    cwd: root,
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
    graceMs: STOP_GRACE_MS,
  });
}

async function waitForGateway(): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (launcher.stopping) return;
    try {
      // Any answer with a request id comes from the gateway itself (a redirect to /productpage).
      const response = await fetch(`http://${HOST}:${GATEWAY_PORT}/`, { redirect: "manual" });
      await response.body?.cancel();
      if (response.headers.has("x-request-id")) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`the gateway did not answer on http://${HOST}:${GATEWAY_PORT} within ${READY_TIMEOUT_MS / 1000} s`);
}

launcher.onStop(() => {
  void shutdownTelemetry();
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  console.error(`[start] stopped${wrangler ? ": wrangler, workerd and the demo origins are gone" : ""}`);
});

try {
  await checkPorts();
  const callers = REVIEWS.filter((r) => r.callsRatings).map((r) => `reviews-${r.version}`);
  const credentials = await makeCredentials([...callers, DEMO_CLIENT]);
  await writeClientCredential(join(root, DEMO_CLIENT_FILE), GATEWAY_URL, spiffeId(DEMO_CLIENT), credentials.secrets.get(spiffeId(DEMO_CLIENT))!);
  const detailsVerifier = originVerifier(GATEWAY_PORT, "details");
  for (const endpoint of DETAILS) servers.push(await startDetails({ ...endpoint, mesh: detailsVerifier }));
  for (const { version, port } of REVIEWS) {
    const id = spiffeId(`reviews-${version}`);
    const credential = credentials.secrets.get(id);
    const tokens = credential ? workloadTokens({ gatewayUrl: GATEWAY_URL, spiffeId: id, credential }) : undefined;
    servers.push(await startReviews({ version, port, gatewayPort: GATEWAY_PORT, mesh: originVerifier(GATEWAY_PORT, `reviews-${version}`), tokens }));
  }
  console.error(`[start] origins up: details on ${DETAILS.map((d) => d.port).join(", ")}, reviews on ${REVIEWS.map((r) => r.port).join(", ")}`);
  wrangler = startWrangler(credentials);
  await waitForGateway();
  if (!launcher.stopping) {
    console.error(
      `\n[start] edgemesh demo mesh ready: http://${HOST}:${GATEWAY_PORT}/productpage\n` +
        `[start] admin API: http://${HOST}:${GATEWAY_PORT}/admin (token ${ADMIN_TOKEN}); try: npm run mesh -- status\n` +
        `[start] identity on: details, reviews and ratings take only mesh callers; a token for ${spiffeId(DEMO_CLIENT)}:\n` +
        `[start]   ID="edgemesh-workload-token: $(npm run -s demo-token)"; curl -s -H "$ID" -H 'Host: details.mesh' ${GATEWAY_URL}/details/0\n` +
        `[start] walkthrough: docs/demo.md. Ctrl-C stops everything.\n`,
    );
  }
} catch (error) {
  console.error(`[start] ${(error as Error).message}`);
  await launcher.stop("start failed", 1);
}
