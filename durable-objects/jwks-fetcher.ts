/**
 * The end-user issuers' JWK Sets that RequestAuthentications name by `jwksUri`, fetched by the
 * ConfigStore (the control plane), never by the request path: when a version that names a URI is
 * applied, and again by the store's alarm every MESH_JWKS_REFRESH_MS (default 5 min, from 1 s to
 * 24 h; a URI without good keys yet is tried again within 30 s). The last good set of each URI is
 * kept in storage; a failed fetch never replaces it (it is recorded, and tried again later).
 *
 * The fetch treats the server as hostile: the URL passes jwks-url.ts again (defense in depth), no
 * redirects (a redirect could lead anywhere the check did not see), a timeout, a size cap read as
 * the body streams, strict JSON (no duplicate keys), and a valid JWK Set of public keys only
 * (jwk-set.ts: a set with a private member is refused whole).
 */
import { checkJwkSet, MAX_JWKS_BYTES, type PublicJwk } from "../common/identity/jwk-set.ts";
import { checkStrictJson } from "../common/identity/strict-json.ts";
import type { Json, PublishedJwks } from "../common/protocol.ts";
import { checkJwksUrl } from "../policies/jwks-url.ts";

export const DEFAULT_JWKS_REFRESH_MS = 300_000;
const MIN_REFRESH_MS = 1_000;
const MAX_REFRESH_MS = 86_400_000;
/** A URI with no good keys yet, or one a gateway found an unknown kid for, is fetched again at most this often. */
const RETRY_MS = 30_000;
const FETCH_TIMEOUT_MS = 5_000;
const MAX_JSON_DEPTH = 6;
/** URIs fetched at once, so a version naming many issuers does not open as many connections. */
const PARALLEL = 4;

type Row = {
  uri: string;
  keys: string | null;
  sequence: number;
  fetched_at: number;
  attempted_at: number;
  error: string | null;
};

export type FetchResult = { ok: true; keys: PublicJwk[] } | { ok: false; error: string };

/** One fetch of a JWK Set, bounded in time and size; never throws. */
export async function fetchJwks(uri: string, fetcher: typeof fetch = fetch): Promise<FetchResult> {
  const fail = (error: string): FetchResult => ({ ok: false, error });
  const problem = checkJwksUrl(uri);
  if (problem) return fail(`the URL ${problem}`);
  try {
    const response = await fetcher(uri, { redirect: "manual", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: "application/jwk-set+json, application/json" } });
    if (response.status !== 200) {
      await response.body?.cancel();
      return fail(`HTTP ${response.status}${response.status >= 300 && response.status < 400 ? " (redirects are not followed)" : ""}`);
    }
    if (Number(response.headers.get("content-length") ?? 0) > MAX_JWKS_BYTES) {
      await response.body?.cancel();
      return fail(`the response is larger than ${MAX_JWKS_BYTES} bytes`);
    }
    const reader = response.body!.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_JWKS_BYTES) {
        await reader.cancel();
        return fail(`the response is larger than ${MAX_JWKS_BYTES} bytes`);
      }
      chunks.push(value);
    }
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) bytes.set(chunk, offset), (offset += chunk.byteLength);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      return fail("the response is not UTF-8");
    }
    const json = checkStrictJson(text, MAX_JSON_DEPTH);
    if (json) return fail(`the response is not acceptable JSON (${json})`);
    const checked = checkJwkSet(JSON.parse(text));
    return checked.ok ? { ok: true, keys: checked.keys } : fail(`the response ${checked.message}`);
  } catch (error) {
    return fail(String(error));
  }
}

/** The jwksUris a version's documents name (RequestAuthentication spec.jwtRules[].jwksUri). */
export function jwksUrisOf(documents: readonly Json[]): string[] {
  const uris = new Set<string>();
  for (const document of documents) {
    const value = document as { kind?: unknown; spec?: { jwtRules?: { jwksUri?: unknown }[] } } | null;
    if (value?.kind !== "RequestAuthentication" || !Array.isArray(value.spec?.jwtRules)) continue;
    for (const rule of value.spec.jwtRules) if (typeof rule?.jwksUri === "string") uris.add(rule.jwksUri);
  }
  return [...uris];
}

export const jwksRefreshMs = (value: string | undefined) => {
  const ms = Number(value);
  return value && Number.isFinite(ms) ? Math.min(MAX_REFRESH_MS, Math.max(MIN_REFRESH_MS, ms)) : DEFAULT_JWKS_REFRESH_MS;
};

export class JwksStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly refreshMs: number,
    private readonly fetcher: typeof fetch = (input, init) => fetch(input, init),
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS jwks (uri TEXT PRIMARY KEY, keys TEXT, sequence INTEGER NOT NULL,
      fetched_at INTEGER NOT NULL, attempted_at INTEGER NOT NULL, error TEXT)`);
  }

  private row(uri: string): Row | undefined {
    return this.sql.exec<Row>("SELECT * FROM jwks WHERE uri = ?", uri).toArray()[0] as Row | undefined;
  }

  /** When a URI is next due: the interval after its last good fetch, sooner while it has no keys. */
  private dueAt(row: Row | undefined): number {
    if (!row) return 0;
    return row.keys === null ? row.attempted_at + Math.min(RETRY_MS, this.refreshMs) : Math.max(row.fetched_at, row.attempted_at) + this.refreshMs;
  }

  nextDueAt(uris: readonly string[]): number | undefined {
    return uris.length ? Math.min(...uris.map((uri) => this.dueAt(this.row(uri)))) : undefined;
  }

  /**
   * Fetches `uris` (those due, or all with `all`), stores what succeeded; the problems of the failed
   * ones, and whether any URI's keys changed (then the snapshot must be published again).
   */
  async refresh(uris: readonly string[], { all = false, now = Date.now() } = {}): Promise<{ changed: boolean; errors: { uri: string; error: string }[] }> {
    const due = all ? [...uris] : uris.filter((uri) => this.dueAt(this.row(uri)) <= now);
    const errors: { uri: string; error: string }[] = [];
    let changed = false;
    for (let i = 0; i < due.length; i += PARALLEL) {
      const batch = due.slice(i, i + PARALLEL);
      const results = await Promise.all(batch.map((uri) => fetchJwks(uri, this.fetcher)));
      batch.forEach((uri, j) => {
        const result = results[j]!;
        if (this.record(uri, result, Date.now())) changed = true;
        if (!result.ok) errors.push({ uri, error: result.error });
      });
    }
    return { changed, errors };
  }

  /** A gateway saw an unknown kid: fetch again unless it was tried within RETRY_MS. */
  async refreshOne(uri: string, now = Date.now()): Promise<{ started: boolean; changed: boolean }> {
    const row = this.row(uri);
    if (row && now - row.attempted_at < Math.min(RETRY_MS, this.refreshMs)) return { started: false, changed: false };
    const { changed } = await this.refresh([uri], { all: true, now });
    return { started: true, changed };
  }

  /** Stores a fetch's result; whether the URI's keys changed. A failure keeps the last good keys. */
  private record(uri: string, result: FetchResult, now: number): boolean {
    const row = this.row(uri);
    if (!result.ok) {
      console.error(JSON.stringify({ level: "warn", message: "JWKS fetch failed; keeping the last good keys", uri, error: result.error }));
      this.sql.exec(
        "INSERT INTO jwks (uri, keys, sequence, fetched_at, attempted_at, error) VALUES (?, NULL, 0, 0, ?, ?) ON CONFLICT(uri) DO UPDATE SET attempted_at = excluded.attempted_at, error = excluded.error",
        uri,
        now,
        result.error,
      );
      return false;
    }
    const keys = JSON.stringify(result.keys);
    const changed = row?.keys !== keys;
    this.sql.exec(
      "INSERT OR REPLACE INTO jwks (uri, keys, sequence, fetched_at, attempted_at, error) VALUES (?, ?, ?, ?, ?, NULL)",
      uri,
      keys,
      // Isolates take a URI's set only at a higher sequence; the clock keeps a URI that left and came
      // back (its row dropped) from numbering below what an isolate still holds.
      changed ? Math.max((row?.sequence ?? 0) + 1, now) : row!.sequence,
      now,
      now,
    );
    return changed;
  }

  /**
   * Drops what is kept for URIs the configuration no longer names: a URI named again later starts
   * with no keys (its issuer's tokens refused until a fetch succeeds), never with keys from long ago
   * that its issuer may have revoked since.
   */
  forgetAllBut(uris: readonly string[]): void {
    const keep = new Set(uris);
    for (const { uri } of this.sql.exec<{ uri: string }>("SELECT uri FROM jwks").toArray()) {
      if (!keep.has(uri)) this.sql.exec("DELETE FROM jwks WHERE uri = ?", uri);
    }
  }

  /** The last good keys of each URI that has some, for the snapshot. */
  published(uris: readonly string[]): Record<string, PublishedJwks> {
    const out: Record<string, PublishedJwks> = {};
    for (const uri of uris) {
      const row = this.row(uri);
      if (row?.keys) out[uri] = { keys: JSON.parse(row.keys) as PublicJwk[], sequence: row.sequence, fetchedAt: row.fetched_at };
    }
    return out;
  }
}
