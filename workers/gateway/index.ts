/** The edgemesh gateway Worker: the mesh's request path, its admin API, and the control plane's Durable Objects. */
import { createAdminApp } from "../admin/app.ts";
import { createGateway } from "./app.ts";
import type { GatewayEnv } from "./context.ts";
import { TableSource } from "./control-plane/table-source.ts";
import { reportHealth } from "./health/report.ts";
import { accessLog } from "./sinks/access-log.ts";

export { BackendCoordinator } from "../../durable-objects/backend-coordinator.ts";
export { ConfigStore } from "../../durable-objects/config-store.ts";
export { RateLimiter } from "../../durable-objects/rate-limiter.ts";

const tables = new TableSource();
const gateway = createGateway({ tables, sinks: [accessLog, reportHealth] });
const admin = createAdminApp({ tables });

/** Whether the path is /admin or below it, without parsing the whole URL on every request. */
function isAdmin(url: string): boolean {
  const path = url.indexOf("/", url.indexOf("//") + 2);
  return path >= 0 && url.startsWith("/admin", path) && (url.length === path + 6 || "/?".includes(url[path + 6]!));
}

export default {
  fetch(request, env, ctx) {
    return isAdmin(request.url) ? admin.fetch(request, env, ctx) : gateway.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<GatewayEnv>;
