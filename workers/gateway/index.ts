/** The edgemesh gateway Worker, and the control plane's Durable Object classes it hosts. */
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

export default {
  fetch: gateway.fetch,
} satisfies ExportedHandler<GatewayEnv>;
