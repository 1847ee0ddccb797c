/**
 * Validates policies/*.yaml and writes them as JSON for the gateway bundle to import: the repo's
 * policies ship inside the Worker (`wrangler deploy` runs this as its build step), and an invalid
 * set stops the deploy. Both forms ship: the documents as written (what seeds the control plane's
 * history) and as validated, defaults applied (what the gateway compiles without validating again).
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { policySetTooBig } from "../../common/config-limits.ts";
import { formatError } from "../errors.ts";
import { normalizedValues, SCHEMA_FINGERPRINT } from "../normalized.ts";
import { defaultPolicyFiles, loadPolicyFiles, printErrors } from "./files.ts";
import { parseCliArgs, workerExposure } from "./worker-exposure.ts";

const OUT = new URL("../../workers/gateway/generated/", import.meta.url);

const { documents, result } = loadPolicyFiles(defaultPolicyFiles());
if (!result.ok) {
  printErrors(result.errors);
  process.exit(1);
}
// The Worker backends' own wrangler configs are read here, in Node: the gateway never sees them.
const exposure = workerExposure(result.set, parseCliArgs(process.argv.slice(2)).wrangler);
if (exposure.errors.length) {
  for (const error of exposure.errors) console.error(error);
  process.exit(1);
}
for (const warning of [...result.warnings, ...exposure.warnings]) console.warn(`warning: ${formatError(warning)}`);
for (const note of exposure.notes) console.warn(`note: ${note}`);
const values = documents.map(({ value }) => value);
// The ConfigStore refuses a bundle it cannot store (a row is at most 2 MB): stop the deploy here instead.
const tooBig = policySetTooBig(values.map((value) => JSON.stringify(value)), documents.map(({ source }) => source));
if (tooBig) {
  console.error(`error: ${tooBig}`);
  process.exit(1);
}
mkdirSync(OUT, { recursive: true });
const bundled = {
  // builtAt orders deploys: the control plane takes a bundle's policies only from a newer build than the
  // one it last took, so isolates of an older deploy still running during a rollout cannot roll it back.
  builtAt: Date.now(),
  // The same hash the gateway computes for MESH_POLICIES: SHA-256 of the documents as written.
  hash: createHash("sha256").update(JSON.stringify(values)).digest("hex"),
  documents: documents.map(({ source, value }) => ({ source, value })),
  normalized: { schema: SCHEMA_FINGERPRINT, documents: normalizedValues(result.set, documents) },
};
writeFileSync(new URL("policies.json", OUT), JSON.stringify(bundled, null, 1) + "\n");
