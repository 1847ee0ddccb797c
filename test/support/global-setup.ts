/** Bundles the gateway once per test run, exactly as `wrangler deploy` would (offline, --dry-run). */
import { execFileSync } from "node:child_process";
import { DIST_DIR } from "./bundle.ts";

export default function setup(): void {
  execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", DIST_DIR], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  });
}
