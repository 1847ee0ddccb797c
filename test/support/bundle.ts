/** Where the test setup writes the gateway bundle (the output of `wrangler deploy --dry-run`). */
import { fileURLToPath } from "node:url";

export const DIST_DIR = fileURLToPath(new URL("../../dist/test-gateway/", import.meta.url));
export const GATEWAY_BUNDLE = `${DIST_DIR}index.js`;
