/**
 * How the CLI shows what the admin API returns: short lines, newest first, diffs as +/-/~. Stored text
 * (messages, actors, names, URLs, error text) is anyone's input, so it is printed escaped: control
 * characters JSON-style (`\n`, `\u001b`), so that a commit message cannot forge lines or colours.
 */

export interface ObjectChange {
  object: string;
  change: "added" | "removed" | "changed";
  fields?: { path: string; from?: unknown; to?: unknown }[];
}

const SHORT: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\\": "\\\\" };
const unicode = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
/** C0 and C1 controls, DEL, line and paragraph separators, and the bidirectional overrides (which reorder what a terminal shows). */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Stored text for a terminal: one line, nothing the terminal would act on; a backslash shows as `\\`. */
export const printable = (text: unknown) => String(text).replace(new RegExp(`${UNSAFE.source}|\\\\`, "g"), (c) => SHORT[c] ?? unicode(c));
/** A value as JSON, with what JSON.stringify leaves raw (DEL, C1, bidi) escaped too. */
const value = (v: unknown) => (v === undefined ? "∅" : (JSON.stringify(v) ?? String(v)).replace(UNSAFE, unicode));
const quoted = (text: string) => `"${printable(text).replace(/"/g, '\\"')}"`;

export const time = (epochMs: number) => new Date(epochMs).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
const mark = (change: ObjectChange["change"]) => ({ added: "+", removed: "-", changed: "~" })[change] ?? "?";

export function printChanges(changes: ObjectChange[]): void {
  if (!changes.length) return console.log("  (no changes)");
  for (const change of changes) {
    console.log(`  ${mark(change.change)} ${printable(change.object)}`);
    for (const field of change.fields ?? []) console.log(`      ${printable(field.path)}: ${value(field.from)} → ${value(field.to)}`);
  }
}

export function printVersions(versions: { version: number; createdAt: number; actor: string; action: string; message: string; documents: number }[]): void {
  for (const v of versions) {
    console.log(`v${String(v.version).padEnd(4)} ${time(v.createdAt)}  ${printable(v.action).padEnd(8)} ${printable(v.actor).padEnd(24)} ${v.documents} docs  ${printable(v.message)}`);
  }
}

type AuditDetail = { message?: string; changes?: ObjectChange[]; changesOmitted?: number; backend?: string; url?: string; kid?: string; spiffeId?: string; next?: string[]; policy?: string; method?: string; path?: string; suppressed?: number };

/** What a change outside the configuration (registry, keys, credentials) was about. */
const subjectOf = (detail: AuditDetail) =>
  [detail.backend, detail.url, detail.kid, detail.spiffeId, ...(Array.isArray(detail.next) ? detail.next : [])].filter((part) => typeof part === "string").map(printable).join(" ");

export function printAudit(entries: { id: number; at: number; actor: string; action: string; fromVersion: number | null; toVersion: number | null; detail: AuditDetail }[]): void {
  for (const entry of entries) {
    // Only configuration changes move between versions; registry, key, credential and denial entries have none.
    const versions = entry.fromVersion === null && entry.toVersion === null ? "" : `v${entry.fromVersion ?? "∅"} → ${entry.toVersion ?? "∅"}`;
    const subject = entry.toVersion === null ? subjectOf(entry.detail) : "";
    const message = (subject ? `  ${subject}` : "") + (entry.detail.message ? `  ${quoted(entry.detail.message)}` : "");
    console.log(`#${entry.id} ${time(entry.at)}  ${printable(entry.action).padEnd(8)} ${versions.padEnd(11)} ${printable(entry.actor)}${message}`);
    for (const change of entry.detail.changes ?? []) console.log(`      ${mark(change.change)} ${printable(change.object)}`);
    if (entry.detail.changesOmitted) console.log(`      … and ${entry.detail.changesOmitted} more`);
    // Authorization denials (authz.deny, authz.dry-run): the policy and the request; paths are client input.
    const { policy, method, path, suppressed } = entry.detail;
    if (policy !== undefined) console.log(`      ${printable(policy)}: ${printable(method ?? "")} ${printable(path ?? "")}${suppressed ? ` (+${suppressed} more not logged)` : ""}`);
  }
}

interface BackendView {
  name: string;
  kind: string;
  endpoints: { id: string; weight: number; eligible: boolean; inFlight: number }[];
  registered?: { url: string; draining: boolean; expiresAt?: number }[];
  health?: { global?: { endpoints: Record<string, { state: string; until: number; ejections: number }> } };
}

export function printBackends(backends: BackendView[]): void {
  for (const backend of backends) {
    console.log(`${printable(backend.name)} (${printable(backend.kind)})`);
    for (const endpoint of backend.endpoints) {
      const global = backend.health?.global?.endpoints[endpoint.id];
      const state = global ? `${printable(global.state)} until ${time(global.until)} (ejected ${global.ejections}×)` : endpoint.eligible ? "healthy" : "ejected here";
      console.log(`  ${printable(endpoint.id).padEnd(32)} weight ${endpoint.weight}  in flight ${endpoint.inFlight}  ${state}`);
    }
    for (const registered of backend.registered ?? []) {
      const expiry = registered.expiresAt ? `expires ${time(registered.expiresAt)}` : "";
      console.log(`  registered ${printable(registered.url)}${registered.draining ? " (draining)" : ""} ${expiry}`);
    }
  }
}
