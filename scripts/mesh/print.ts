/** How the CLI shows what the admin API returns: short lines, newest first, diffs as +/-/~. */

export interface ObjectChange {
  object: string;
  change: "added" | "removed" | "changed";
  fields?: { path: string; from?: unknown; to?: unknown }[];
}

const time = (epochMs: number) => new Date(epochMs).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
const value = (v: unknown) => (v === undefined ? "∅" : JSON.stringify(v));

export function printChanges(changes: ObjectChange[]): void {
  if (!changes.length) return console.log("  (no changes)");
  for (const change of changes) {
    const mark = { added: "+", removed: "-", changed: "~" }[change.change];
    console.log(`  ${mark} ${change.object}`);
    for (const field of change.fields ?? []) console.log(`      ${field.path}: ${value(field.from)} → ${value(field.to)}`);
  }
}

export function printVersions(versions: { version: number; createdAt: number; actor: string; action: string; message: string; documents: number }[]): void {
  for (const v of versions) {
    console.log(`v${String(v.version).padEnd(4)} ${time(v.createdAt)}  ${v.action.padEnd(8)} ${v.actor.padEnd(24)} ${v.documents} docs  ${v.message}`);
  }
}

export function printAudit(entries: { id: number; at: number; actor: string; action: string; fromVersion: number | null; toVersion: number | null; detail: { message?: string; changes?: ObjectChange[] } }[]): void {
  for (const entry of entries) {
    const versions = `${entry.fromVersion ?? "∅"} → ${entry.toVersion ?? "∅"}`;
    console.log(`#${entry.id} ${time(entry.at)}  ${entry.action.padEnd(8)} v${versions.padEnd(10)} ${entry.actor}${entry.detail.message ? `  "${entry.detail.message}"` : ""}`);
    for (const change of entry.detail.changes ?? []) console.log(`      ${{ added: "+", removed: "-", changed: "~" }[change.change]} ${change.object}`);
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
    console.log(`${backend.name} (${backend.kind})`);
    for (const endpoint of backend.endpoints) {
      const global = backend.health?.global?.endpoints[endpoint.id];
      const state = global ? `${global.state} until ${time(global.until)} (ejected ${global.ejections}×)` : endpoint.eligible ? "healthy" : "ejected here";
      console.log(`  ${endpoint.id.padEnd(32)} weight ${endpoint.weight}  in flight ${endpoint.inFlight}  ${state}`);
    }
    for (const registered of backend.registered ?? []) {
      const expiry = registered.expiresAt ? `expires ${time(registered.expiresAt)}` : "";
      console.log(`  registered ${registered.url}${registered.draining ? " (draining)" : ""} ${expiry}`);
    }
  }
}
