/** The edgemesh gateway Worker: the mesh's request path, its admin API, and the control plane's Durable Objects. */
import { WorkerEntrypoint } from "cloudflare:workers";
import { createAdminApp } from "../admin/app.ts";
import { createGateway } from "./app.ts";
import { TableSource } from "./control-plane/table-source.ts";
import type { GatewayEnv } from "./env.ts";
import { reportHealth } from "./health/report.ts";
import { identityEndpoint } from "./identity/endpoints.ts";
import { createIsolateState } from "./isolate-state.ts";
import { accessLog } from "./sinks/access-log.ts";
import { auditDenials } from "./sinks/authz-audit.ts";
import { writeAnalytics } from "./sinks/analytics.ts";
import { reportMetrics } from "./sinks/metrics.ts";
import { recordRecent } from "./sinks/recent.ts";
import { exportTraces } from "./sinks/traces.ts";
import { normalizePathname } from "./stages/normalize-path.ts";
import { decodedPath } from "../../common/normal-path.ts";
import { hostnameOf } from "./table/index.ts";

export { AlertEvaluator } from "../../durable-objects/alert-evaluator.ts";
export { BackendCoordinator } from "../../durable-objects/backend-coordinator.ts";
export { ConfigStore } from "../../durable-objects/config-store.ts";
export { Issuer } from "../../durable-objects/issuer.ts";
export { MetricsAggregator } from "../../durable-objects/metrics-aggregator.ts";
export { RateLimiter } from "../../durable-objects/rate-limiter.ts";

// This isolate's state, made once here and handed to the gateway and the admin API.
const isolate = createIsolateState();
const tables = new TableSource(isolate);
const gateway = createGateway({ tables, isolate, sinks: [accessLog, reportHealth(isolate.health, (backend, endpoint) => isolate.metrics.store.inc("ejections", [backend, endpoint])), auditDenials(isolate.authzAudit), reportMetrics(isolate.metrics), exportTraces(isolate.traces, isolate.metrics.store), recordRecent(isolate.recent), writeAnalytics] });
const adminApp = createAdminApp({ tables, isolate });

/**
 * The request as the admin API should get it, if it is for the admin API: /admin and below, on
 * ADMIN_HOST when that is set (so that /admin on every other host stays the mesh's), on any host
 * otherwise. Decided on the path normalized as the mesh routes it (normalize-path.ts), so /%61dmin
 * and //admin are /admin for both; a path the mesh refuses (an encoded slash) is left to the mesh and
 * its 400. Read off the URL string when the path has no "%", "\" or "//" (workerd resolved its "."
 * and ".." already): a mesh request then pays no parse; any other is parsed as the mesh parses it.
 */
function adminRequest(request: Request, adminHost: string | undefined): Request | undefined {
  const url = request.url;
  const hostStart = url.indexOf("//") + 2;
  const pathStart = url.indexOf("/", hostStart);
  if (pathStart < 0) return undefined;
  const query = url.indexOf("?", pathStart);
  const pathEnd = query < 0 ? url.length : query;
  let path: string | undefined;
  if (needsParse(url, pathStart, pathEnd)) {
    try {
      // The URL parser's path, as the mesh reads it (record-outcome.ts): the raw string still holds
      // "%2e%2e", which only the parser resolves as "..", so /x/%2e%2e/admin is /admin for both.
      const parsed = new URL(url).pathname;
      const meshPath = normalizePathname(parsed);
      if (!isAdminPath(meshPath, 0, meshPath.length)) return undefined;
      // The admin API's paths may hold SPIFFE IDs ("spiffe://…"): it gets them unmerged, bar the leading slashes.
      path = decodedPath(parsed)!.replace(LEADING_SLASHES, "/");
    } catch {
      return undefined;
    }
  } else if (!isAdminPath(url, pathStart, pathEnd)) return undefined;
  if (adminHost && hostnameOf(url.slice(hostStart, pathStart)) !== adminHost) return undefined;
  return path === undefined ? request : new Request(url.slice(0, pathStart) + path + url.slice(pathEnd), request);
}

const LEADING_SLASHES = /^\/{2,}/;

const PARSE_MARKS = ["%", "\\", "//"];

/** Whether the raw path may read otherwise once parsed and normalized: an escape, a "\" (a "/" to the parser), or "//". */
function needsParse(url: string, start: number, end: number): boolean {
  for (const mark of PARSE_MARKS) {
    const at = url.indexOf(mark, start);
    if (at >= 0 && at < end) return true;
  }
  return false;
}

/** Whether text[start, end) is /admin or below it. */
const isAdminPath = (text: string, start: number, end: number) => text.startsWith("/admin", start) && (end === start + 6 || text[start + 6] === "/");

function handle(request: Request, env: GatewayEnv, ctx: ExecutionContext): Response | Promise<Response> {
  const endpoint = identityEndpoint(request.url, env.ADMIN_HOST);
  if (endpoint) return endpoint(request, env, isolate.identity);
  const admin = adminRequest(request, env.ADMIN_HOST);
  return admin ? adminApp.fetch(admin, env, ctx) : gateway.fetch(request, env, ctx);
}

export default { fetch: handle } satisfies ExportedHandler<GatewayEnv>;

/**
 * The gateway's door for Worker callers: a service binding to it (`entrypoint = "Mesh"`) with
 * `props = { service = "productpage", namespace = "default" }` gives the caller that mesh identity
 * (stages/authenticate.ts reads `ctx.props`). Props are set by the binding's configuration, so the
 * identity needs no secret and the caller's code cannot change it. Everything else as the default entry.
 */
export class Mesh extends WorkerEntrypoint<GatewayEnv> {
  override fetch(request: Request): Response | Promise<Response> {
    return handle(request, this.env, this.ctx);
  }
}
