/** The edgemesh gateway Worker: the mesh's request path, its admin API, and the control plane's Durable Objects. */
import { createAdminApp } from "../admin/app.ts";
import { createGateway } from "./app.ts";
import { TableSource } from "./control-plane/table-source.ts";
import type { GatewayEnv } from "./env.ts";
import { reportHealth } from "./health/report.ts";
import { createIsolateState } from "./isolate-state.ts";
import { accessLog } from "./sinks/access-log.ts";
import { hostnameOf } from "./table/index.ts";

export { BackendCoordinator } from "../../durable-objects/backend-coordinator.ts";
export { ConfigStore } from "../../durable-objects/config-store.ts";
export { RateLimiter } from "../../durable-objects/rate-limiter.ts";

// This isolate's state, made once here and handed to the gateway and the admin API.
const isolate = createIsolateState();
const tables = new TableSource(isolate);
const gateway = createGateway({ tables, isolate, sinks: [accessLog, reportHealth(isolate.health)] });
const admin = createAdminApp({ tables, isolate });

/**
 * Whether a request is for the admin API: /admin and below, on ADMIN_HOST when that is set (so that
 * /admin on every other host stays the mesh's), on any host otherwise. Checked on the URL string, so
 * mesh requests pay no parse.
 */
function isAdmin(url: string, adminHost: string | undefined): boolean {
  const hostStart = url.indexOf("//") + 2;
  const path = url.indexOf("/", hostStart);
  if (path < 0 || !url.startsWith("/admin", path) || !(url.length === path + 6 || "/?".includes(url[path + 6]!))) return false;
  return !adminHost || hostnameOf(url.slice(hostStart, path)) === adminHost;
}

export default {
  fetch(request, env: GatewayEnv, ctx) {
    return isAdmin(request.url, env.ADMIN_HOST) ? admin.fetch(request, env, ctx) : gateway.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<GatewayEnv>;
