/** The edgemesh gateway Worker. */
import { createGateway } from "./app.ts";
import { currentTable } from "./config.ts";
import type { GatewayEnv } from "./context.ts";
import { accessLog } from "./sinks/access-log.ts";

const app = createGateway({ currentTable, sinks: [accessLog] });

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<GatewayEnv>;
