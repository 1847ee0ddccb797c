/**
 * `npm run mesh -- <command>`: the mesh's admin API from a terminal. The commands and their options
 * are in usage.ts (`npm run mesh -- help`); client.ts talks to the API, print.ts shows its answers.
 */
import { createInterface } from "node:readline/promises";
import { parseArgs } from "node:util";
import { defaultPolicyFiles, loadPolicyFiles, printErrors } from "../../policies/cli/files.ts";
import { ADMIN_URL, call, CliError, expectOk, type Answer, type ErrorBody } from "./client.ts";
import { identityCommands } from "./identity.ts";
import { observeCommands } from "./observe.ts";
import { printable, printAudit, printBackends, printChanges, printVersions, type ObjectChange } from "./print.ts";
import { USAGE } from "./usage.ts";
import { exitQuietlyOnClosedPipe } from "../../policies/cli/closed-pipe.ts";

exitQuietlyOnClosedPipe();

type Result = { dryRun: boolean; unchanged: boolean; fromVersion: number; version: number; changes: ObjectChange[]; published: boolean; warnings: string[] };

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        "dry-run": { type: "boolean", default: false },
        yes: { type: "boolean", short: "y", default: false },
        message: { type: "string", short: "m" },
        limit: { type: "string", default: "20" },
        "allow-empty": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        out: { type: "string", short: "o" },
      },
    });
  } catch (error) {
    // A kid (base64url) may start with "-": parseArgs then reads it as an option.
    const hint = /Unknown option/.test((error as Error).message) ? ' (a value that starts with "-", such as a kid, goes after --)' : "";
    process.stderr.write(`mesh: ${(error as Error).message}${hint}\n\n${USAGE}`);
    process.exit(1);
  }
}

const { values: flags, positionals } = parse();
const [command, ...args] = positionals;
const noChange = (result: Result) => console.log(`no change: version ${result.version} already has these documents`);

async function confirm(question: string): Promise<boolean> {
  if (flags.yes) return true;
  if (!process.stdin.isTTY) throw new CliError(`${question} Not a terminal: pass --yes to go ahead.`);
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await prompt.question(`${question} [y/N] `);
  prompt.close();
  return /^y(es)?$/i.test(answer.trim());
}

function localDocuments(files: string[]) {
  const { documents, result } = loadPolicyFiles(files.length ? files : defaultPolicyFiles());
  if (!result.ok) {
    printErrors(result.errors);
    throw new CliError("nothing was sent: fix the policy files first");
  }
  if (!documents.length && !flags["allow-empty"]) {
    throw new CliError("the files hold no documents: applying them would remove every route and backend; pass --allow-empty to do that on purpose");
  }
  return { documents: documents.map((d) => d.value), sources: documents.map((d) => d.source), ...(flags["allow-empty"] && { allowEmpty: true }) };
}

/** An answer refusing an empty set, in the CLI's terms (its flag rather than the API's field). */
function refuseEmpty(answer: Answer<Result | ErrorBody>, what: string): void {
  if ((answer.body as ErrorBody).error?.reason === "empty_policy_set") {
    throw new CliError(`${what} no documents: it would remove every route and backend; pass --allow-empty to do that on purpose`);
  }
}

/** The dry run: the changes against the current version, printed unless there are none. */
async function preview(body: object, empty = "the set has"): Promise<Result> {
  const answer = await call<Result | ErrorBody>("POST", "/config/apply", { ...body, dryRun: true });
  refuseEmpty(answer, empty);
  const result = expectOk<Result>(answer);
  for (const warning of result.warnings) console.warn(`warning: ${printable(warning)}`);
  if (result.unchanged) return result;
  console.log(`Changes from version ${result.fromVersion}:`);
  printChanges(result.changes);
  return result;
}

async function commit(path: string, body: object): Promise<void> {
  const answer = await call<Result | ErrorBody>("POST", path, body);
  if (answer.status === 409) {
    throw new CliError(`${printable((answer.body as ErrorBody).error.message)}. Someone changed the configuration since the preview: run the command again.`);
  }
  const result = expectOk<Result>(answer);
  if (result.unchanged) noChange(result);
  else if (result.published) console.log(`Version ${result.version} is live (was ${result.fromVersion}). Gateways pick it up within their poll interval.`);
  else console.log(`Version ${result.version} is stored (was ${result.fromVersion}), but not yet published to gateways; the control plane keeps retrying.`);
}

const commands: Record<string, () => Promise<void>> = {
  async status() {
    const status = expectOk<{ isolate: { tableVersion: number; controlPlane: { checkedAt: number | null; lastError: string | null } }; controlPlane: { version: number; registryVersion: number } }>(await call("GET", "/status"));
    console.log(`admin API:      ${ADMIN_URL}`);
    console.log(`stored version: ${status.controlPlane.version} (registry ${status.controlPlane.registryVersion})`);
    console.log(`served version: ${status.isolate.tableVersion} (by the isolate that answered)`);
    if (status.isolate.controlPlane.lastError) console.log(`last error:     ${printable(status.isolate.controlPlane.lastError)}`);
  },
  async apply() {
    const body = { ...localDocuments(args), ...(flags.message !== undefined && { message: flags.message }) };
    const result = await preview(body);
    if (result.unchanged) return noChange(result);
    if (flags["dry-run"]) return;
    if (!(await confirm(`Apply as version ${result.fromVersion + 1}?`))) return console.log("Nothing applied.");
    await commit("/config/apply", { ...body, baseVersion: result.fromVersion });
  },
  async diff() {
    if (!args.length) {
      const result = await preview(localDocuments([]));
      return result.unchanged ? noChange(result) : undefined;
    }
    const [from, to] = args;
    if (!to) throw new CliError("usage: diff <from-version> <to-version>, or diff with no arguments for the files against the current version");
    printChanges(expectOk<{ changes: ObjectChange[] }>(await call("GET", `/config/diff?from=${Number(from)}&to=${Number(to)}`)).changes);
  },
  async history() {
    printVersions(expectOk<{ versions: Parameters<typeof printVersions>[0] }>(await call("GET", `/config/versions?limit=${Number(flags.limit)}`)).versions);
  },
  async rollback() {
    const version = Number(args[0]);
    if (!Number.isInteger(version) || version < 1) throw new CliError("usage: rollback <version>");
    const target = expectOk<{ documents: unknown[] }>(await call("GET", `/config/versions/${version}`));
    const allowEmpty = flags["allow-empty"] ? { allowEmpty: true } : {};
    const result = await preview({ documents: target.documents, ...allowEmpty }, `version ${version} has`);
    if (result.unchanged) return noChange(result);
    if (!(await confirm(`Roll back to version ${version}'s documents as version ${result.fromVersion + 1}?`))) return console.log("Nothing changed.");
    await commit("/config/rollback", { version, baseVersion: result.fromVersion, ...allowEmpty, ...(flags.message !== undefined && { message: flags.message }) });
  },
  async audit() {
    printAudit(expectOk<{ entries: Parameters<typeof printAudit>[0] }>(await call("GET", `/audit?limit=${Number(flags.limit)}`)).entries);
  },
  async backends() {
    if (args[0]) return printBackends([expectOk<Parameters<typeof printBackends>[0][number]>(await call("GET", `/backends/${args[0].split("/").map(encodeURIComponent).join("/")}`))]);
    printBackends(expectOk<{ backends: Parameters<typeof printBackends>[0] }>(await call("GET", "/backends")).backends);
  },
  ...observeCommands(args, flags),
  ...identityCommands(args, confirm),
};

try {
  if (flags.help || !command || command === "help") process.stdout.write(USAGE);
  else if (!commands[command]) {
    process.stderr.write(`mesh: unknown command "${printable(command)}"\n\n${USAGE}`);
    process.exitCode = 1;
  } else await commands[command]();
} catch (error) {
  if (!(error instanceof CliError)) throw error;
  console.error(`mesh: ${error.message}`);
  process.exitCode = 1;
}
