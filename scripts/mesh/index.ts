/**
 * `npm run mesh -- <command>`: the mesh's admin API from a terminal.
 *
 *   status                         versions served and stored
 *   apply [files…] [--dry-run] [--yes] [-m msg]
 *                                  validate policy files (default: policies/*.yaml), preview the
 *                                  diff, then make them the next version
 *   diff [<from> <to>]             what changed between two versions (no arguments: files vs current)
 *   history [--limit N]            versions, newest first
 *   rollback <version> [--yes]     make an earlier version's documents the next version
 *   audit [--limit N]              the audit log, newest first
 *   backends [name]                endpoints, health and registry
 *
 * MESH_ADMIN_URL (default http://127.0.0.1:8787) and MESH_ADMIN_TOKEN (default: npm start's token).
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { parseArgs } from "node:util";
import { defaultPolicyFiles, loadPolicyFiles, printErrors } from "../../policies/cli/files.ts";
import { ADMIN_URL, call, CliError, expectOk, type ErrorBody } from "./client.ts";
import { printAudit, printBackends, printChanges, printVersions, type ObjectChange } from "./print.ts";

type Result = { dryRun: boolean; fromVersion: number; version: number; changes: ObjectChange[]; published: boolean };

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "dry-run": { type: "boolean", default: false },
    yes: { type: "boolean", short: "y", default: false },
    message: { type: "string", short: "m" },
    limit: { type: "string", default: "20" },
    help: { type: "boolean", short: "h", default: false },
  },
});
const [command, ...args] = positionals;

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
  return { documents: documents.map((d) => d.value), sources: documents.map((d) => d.source) };
}

async function preview(body: object): Promise<Result> {
  const result = expectOk<Result>(await call<Result | ErrorBody>("POST", "/config/apply", { ...body, dryRun: true }));
  console.log(`Changes from version ${result.fromVersion}:`);
  printChanges(result.changes);
  return result;
}

async function commit(path: string, body: object): Promise<void> {
  const answer = await call<Result | ErrorBody>("POST", path, body);
  if (answer.status === 409) {
    throw new CliError(`${(answer.body as ErrorBody).error.message}. Someone changed the configuration since the preview: run the command again.`);
  }
  const result = expectOk<Result>(answer);
  if (result.published) console.log(`Version ${result.version} is live (was ${result.fromVersion}). Gateways pick it up within their poll interval.`);
  else console.log(`Version ${result.version} is stored (was ${result.fromVersion}), but not yet published to gateways; the control plane keeps retrying.`);
}

const commands: Record<string, () => Promise<void>> = {
  async status() {
    const status = expectOk<{ isolate: { tableVersion: number; controlPlane: { checkedAt: number | null; lastError: string | null } }; controlPlane: { version: number; registryVersion: number } }>(await call("GET", "/status"));
    console.log(`admin API:      ${ADMIN_URL}`);
    console.log(`stored version: ${status.controlPlane.version} (registry ${status.controlPlane.registryVersion})`);
    console.log(`served version: ${status.isolate.tableVersion} (by the isolate that answered)`);
    if (status.isolate.controlPlane.lastError) console.log(`last error:     ${status.isolate.controlPlane.lastError}`);
  },
  async apply() {
    const body = { ...localDocuments(args), ...(flags.message !== undefined && { message: flags.message }) };
    const result = await preview(body);
    if (flags["dry-run"] || !result.changes.length) return;
    if (!(await confirm(`Apply as version ${result.fromVersion + 1}?`))) return console.log("Nothing applied.");
    await commit("/config/apply", { ...body, baseVersion: result.fromVersion });
  },
  async diff() {
    if (!args.length) return void (await preview(localDocuments([])));
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
    const result = await preview({ documents: target.documents });
    if (!(await confirm(`Roll back to version ${version}'s documents as version ${result.fromVersion + 1}?`))) return console.log("Nothing changed.");
    await commit("/config/rollback", { version, baseVersion: result.fromVersion, ...(flags.message !== undefined && { message: flags.message }) });
  },
  async audit() {
    printAudit(expectOk<{ entries: Parameters<typeof printAudit>[0] }>(await call("GET", `/audit?limit=${Number(flags.limit)}`)).entries);
  },
  async backends() {
    if (args[0]) return printBackends([expectOk<Parameters<typeof printBackends>[0][number]>(await call("GET", `/backends/${encodeURIComponent(args[0])}`))]);
    printBackends(expectOk<{ backends: Parameters<typeof printBackends>[0] }>(await call("GET", "/backends")).backends);
  },
};

const usage = () => console.log(readFileSync(new URL(import.meta.url), "utf8").split("*/")[0]!.replace(/^\/\*\*\n?| \* ?/gm, ""));

try {
  if (flags.help || !command) usage();
  else if (!commands[command]) throw new CliError(`unknown command "${command}"; run npm run mesh -- --help`);
  else await commands[command]();
} catch (error) {
  if (!(error instanceof CliError)) throw error;
  console.error(`mesh: ${error.message}`);
  process.exitCode = 1;
}
