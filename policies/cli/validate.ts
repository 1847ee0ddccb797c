/**
 * `npm run validate [files…] [--gateway <file>] [--wrangler <file>]…`: checks policy files; prints one
 * line per error and exits 1 if any (warnings and notes alone exit 0). The wrangler options name the
 * configs that the Worker-backend check reads (worker-exposure.ts); by default it finds them.
 */
import { formatError } from "../errors.ts";
import { FIELD_OF_KIND } from "../kinds.ts";
import { defaultPolicyFiles, loadPolicyFiles, printErrors } from "./files.ts";
import { parseCliArgs, WRANGLER_USAGE, workerExposure } from "./worker-exposure.ts";
import { exitQuietlyOnClosedPipe } from "./closed-pipe.ts";

exitQuietlyOnClosedPipe();

let args;
try {
  args = parseCliArgs(process.argv.slice(2));
} catch (error) {
  console.error(`${(error as Error).message}\nusage: npm run validate [files…] ${WRANGLER_USAGE}`);
  process.exit(2);
}
const { documents, result } = loadPolicyFiles(args.files.length ? args.files : defaultPolicyFiles());
if (!result.ok) {
  printErrors(result.errors);
  process.exit(1);
}
const exposure = workerExposure(result.set, args.wrangler);
if (exposure.errors.length) {
  for (const error of exposure.errors) console.error(error);
  process.exit(1);
}
for (const warning of [...result.warnings, ...exposure.warnings]) console.warn(`warning: ${formatError(warning)}`);
for (const note of exposure.notes) console.warn(`note: ${note}`);
// Every kind present, as many of each: "6 HTTPRoute, 6 Backend, 3 AuthorizationPolicy".
const counts = Object.entries(FIELD_OF_KIND).flatMap(([kind, field]) => (result.set[field].length ? [`${result.set[field].length} ${kind}`] : []));
console.log(`ok: ${documents.length} documents (${counts.join(", ")})`);
