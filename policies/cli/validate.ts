/** `npm run validate [files…]`: checks policy files; prints one line per error and exits 1 if any (warnings alone exit 0). */
import { formatError } from "../errors.ts";
import { defaultPolicyFiles, loadPolicyFiles, printErrors } from "./files.ts";

const files = process.argv.slice(2);
const { documents, result } = loadPolicyFiles(files.length ? files : defaultPolicyFiles());
if (!result.ok) {
  printErrors(result.errors);
  process.exit(1);
}
for (const warning of result.warnings) console.warn(`warning: ${formatError(warning)}`);
const { routes, backends, trafficPolicies } = result.set;
console.log(
  `ok: ${documents.length} documents (${routes.length} HTTPRoutes, ${backends.length} Backends, ${trafficPolicies.length} BackendTrafficPolicies)`,
);
