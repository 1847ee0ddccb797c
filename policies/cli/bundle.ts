/**
 * Validates policies/*.yaml and writes them as JSON for the gateway bundle to import: the repo's
 * policies ship inside the Worker (`wrangler deploy` runs this as its build step), and an invalid
 * set stops the deploy.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { formatError } from "../errors.ts";
import { defaultPolicyFiles, loadPolicyFiles, printErrors } from "./files.ts";

const OUT = new URL("../../workers/gateway/generated/", import.meta.url);

const { documents, result } = loadPolicyFiles(defaultPolicyFiles());
if (!result.ok) {
  printErrors(result.errors);
  process.exit(1);
}
for (const warning of result.warnings) console.warn(`warning: ${formatError(warning)}`);
mkdirSync(OUT, { recursive: true });
// builtAt orders deploys: the control plane takes a bundle's policies only from a newer build than the
// one it last took, so isolates of an older deploy still running during a rollout cannot roll it back.
const bundled = { builtAt: Date.now(), documents: documents.map(({ source, value }) => ({ source, value })) };
writeFileSync(new URL("policies.json", OUT), JSON.stringify(bundled, null, 1) + "\n");
