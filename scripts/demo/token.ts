/**
 * `npm run -s demo-token`: prints a workload token for the demo's `demo-client` identity, exchanged
 * at the running gateway with the credential `npm start` wrote (.mesh-state/demo-client.json), for
 * curl:  T=$(npm run -s demo-token); curl -H "edgemesh-workload-token: $T" -H 'Host: details.mesh' …
 * The token lives MESH_TOKEN_LIFETIME_MS (5 min); run it again for a new one.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { workloadTokens } from "../../client/workload-tokens.ts";
import { DEMO_CLIENT_FILE } from "./identity.ts";

const path = fileURLToPath(new URL(`../../${DEMO_CLIENT_FILE}`, import.meta.url));
try {
  const { gatewayUrl, spiffeId, credential } = JSON.parse(await readFile(path, "utf8")) as { gatewayUrl: string; spiffeId: string; credential: string };
  console.log(await workloadTokens({ gatewayUrl, spiffeId, credential }).token());
} catch (error) {
  const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
  console.error(`demo-token: ${missing ? `no ${DEMO_CLIENT_FILE}: is \`npm start\` running?` : (error as Error).message}`);
  process.exit(1);
}
