/**
 * ConfigStore: the one Durable Object that holds the mesh's configuration history and audit log, and
 * publishes what gateways need as one KV snapshot. It is control plane only: gateway requests never
 * call it (they poll KV), so a single global object is the right atom here.
 *
 * Versions are immutable; apply, rollback and deploy each append one (version-store.ts). An apply that
 * fails validation, is too big, would empty the set without saying so, or loses an optimistic-concurrency
 * race (baseVersion) changes nothing; one whose documents equal the current version's makes no version
 * and no audit entry (`unchanged`). The audit log is append-only: no RPC method edits or deletes it.
 */
import { DurableObject } from "cloudflare:workers";
import { formatError, type SourceDocument } from "../policies/errors.ts";
import { SCHEMA_FINGERPRINT } from "../policies/normalized.ts";
import { parsePolicySet } from "../policies/policy-set.ts";
import { diffDocuments } from "./config-diff.ts";
import { auditedChanges, policySetTooBig } from "../common/config-limits.ts";
import { MetaTable } from "./meta.ts";
import { SnapshotPublisher } from "./publisher.ts";
import { AuditLog } from "./audit-log.ts";
import { AuthzAuditCap } from "./authz-audit.ts";
import { type ApplyRequest, type ApplyResult, type AuditEntry, type AuditRecord, type AuthzAuditEntry, type OutboxRecord, type Bundle, type ConfigStoreApi, type Json, type MeshSnapshot, type ObjectChange, type RegisteredEndpoint, type RollbackRequest, type VersionSummary } from "../common/protocol.ts";
import { summarize, VersionStore } from "./version-store.ts";
import { SnapshotDocuments } from "./snapshot-documents.ts";
import { RegistryTable } from "./registry-table.ts";
import type { TrustBundle } from "../common/identity/bundle.ts";
import { jwksRefreshMs, jwksUrisOf, JwksStore } from "./jwks-fetcher.ts";

export interface ConfigStoreEnv {
  MESH_KV?: KVNamespace;
  /** How often end-user issuers' JWK Sets are fetched again (ms; default 5 min, 1 s to 24 h). */
  MESH_JWKS_REFRESH_MS?: string;
}

const REPUBLISH_DELAY_MS = 5_000;

export class ConfigStore extends DurableObject<ConfigStoreEnv> implements ConfigStoreApi {
  private readonly sql: SqlStorage;
  private readonly meta: MetaTable;
  private readonly publisher: SnapshotPublisher;
  private readonly versions: VersionStore;
  private readonly snapshotDocuments = new SnapshotDocuments();
  private readonly authzCap = new AuthzAuditCap();
  private jwks!: JwksStore;
  private auditLog!: AuditLog;
  private registry!: RegistryTable;

  constructor(ctx: DurableObjectState, env: ConfigStoreEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.meta = new MetaTable(this.sql);
    this.versions = new VersionStore(this.sql, ctx.storage);
    this.publisher = new SnapshotPublisher(this.meta, env.MESH_KV, () => this.buildSnapshot(), () => this.alarmBy(Date.now() + REPUBLISH_DELAY_MS));
    ctx.blockConcurrencyWhile(async () => {
      this.auditLog = new AuditLog(this.sql);
      this.registry = new RegistryTable(this.sql);
      this.jwks = new JwksStore(this.sql, jwksRefreshMs(env.MESH_JWKS_REFRESH_MS));
    });
  }

  /**
   * Makes the deploy's bundled policies the first version, or a new version when a later build bundles
   * different files (the repo is the source of truth for what it ships). Idempotent; a bundle built
   * before the one last taken is ignored, so an old deploy's isolates cannot undo a newer one.
   */
  async seed(bundle: Bundle): Promise<number> {
    const { hash: bundleHash, builtAt, documents, sources } = bundle;
    if (this.meta.get("bundleHash") === bundleHash || builtAt < this.meta.number("bundleBuiltAt")) return this.versions.current();
    const current = this.versions.current();
    const takeBundle = () => (this.meta.set("bundleHash", bundleHash), this.meta.set("bundleBuiltAt", builtAt));
    // Versions applied before any gateway brought its bundle are newer than that bundle: note it, keep them.
    if (this.meta.get("bundleHash") === undefined && current > 0) {
      takeBundle();
      await this.publisher.changed();
      return current;
    }
    const serialized = documents.map((document) => JSON.stringify(document));
    // Refused before anything is written: a bundle marked taken but never stored would be lost for good.
    const tooBig = policySetTooBig(serialized, sources);
    if (tooBig) throw new Error(`the policies bundled with this deploy cannot be stored: ${tooBig}`);
    const action = current === 0 ? "seed" : "deploy";
    const changes = diffDocuments(this.versions.documents(current), documents);
    let change = 0;
    const version = this.versions.append(documents, serialized, sources, "deploy", action, `policies bundled with the deploy (${bundleHash.slice(0, 12)})`, (version) => {
      takeBundle();
      this.recordAudit("deploy", action, current || null, version, { bundleHash, changes });
      change = this.publisher.record();
    });
    await this.publishSoonAfterRestart();
    await this.fetchJwks(documents);
    await this.publisher.publish(change);
    return version;
  }

  async apply(request: ApplyRequest): Promise<ApplyResult> {
    return await this.commit(request, request.documents, request.sources ?? [], "apply");
  }

  /** An earlier version's documents as the next version; validated again, since the schemas may have moved on. */
  async rollback(request: RollbackRequest): Promise<ApplyResult> {
    const row = this.versions.row(request.version);
    if (!row) return { ok: false, status: 404, reason: "not_found", message: this.versions.missing(request.version) };
    const message = request.message ?? `rollback to version ${request.version}`;
    return await this.commit({ ...request, message }, JSON.parse(row.documents), JSON.parse(row.sources), "rollback");
  }

  /** The spec of a Backend ("name" or "namespace/name") in the current version, for registration checks. */
  async backendSpec(backend: string): Promise<Json | undefined> {
    return (this.versions.currentObject("Backend", backend) as { spec?: Json } | undefined)?.spec;
  }

  async current(): Promise<{ version: number; documents: Json[]; sources: string[] } | undefined> {
    const row = this.versions.row(this.versions.current());
    return row && { version: row.version, documents: JSON.parse(row.documents), sources: JSON.parse(row.sources) };
  }

  async getVersion(version: number): Promise<{ summary: VersionSummary; documents: Json[] } | undefined> {
    const row = this.versions.row(version);
    return row && { summary: summarize(row), documents: JSON.parse(row.documents) };
  }

  /** Why a version cannot be read (never made, or dropped), for the admin API's 404s. */
  async versionMissing(version: number): Promise<string> {
    return this.versions.missing(version);
  }

  async history(limit = 50, before?: number): Promise<VersionSummary[]> {
    return this.versions.history(limit, before);
  }

  async diff(from: number, to: number) {
    const a = this.versions.row(from);
    const b = this.versions.row(to);
    if (!a || !b) return undefined;
    return diffDocuments(JSON.parse(a.documents), JSON.parse(b.documents));
  }

  async audit(limit = 100, before?: number): Promise<AuditEntry[]> {
    return this.auditLog.read(limit, before);
  }

  /** The admin API's own entry, as isolates of the deploy before the outboxes sent it: kept while such isolates may still run. */
  async appendAudit(record: AuditRecord): Promise<void> {
    this.auditLog.appendChecked(Date.now(), record, "the admin API");
  }

  /** Entries for changes made outside the configuration (registry, keys, credentials), from the outbox of the object that made them. */
  async appendAudits(source: string, records: OutboxRecord[]): Promise<number> {
    return this.ctx.storage.transactionSync(() => this.auditLog.appendDelivered(source, records));
  }

  /**
   * Called by a BackendCoordinator when its registered endpoints change. `seq` orders its calls: one
   * that arrives after a newer one is ignored, so the registry never goes back to an older list.
   */
  async publishRegistry(backend: string, endpoints: RegisteredEndpoint[], seq: number): Promise<boolean> {
    if (!this.registry.take(backend, endpoints, seq)) return true;
    this.meta.set("registryVersion", this.meta.number("registryVersion") + 1);
    return await this.publisher.changed();
  }

  /** Called by the Issuer when its keys change; an older bundle (lower spiffe_sequence) never replaces a newer one. */
  async publishTrustBundle(bundle: TrustBundle): Promise<boolean> {
    const known = this.meta.get("trustBundle");
    if (known && (JSON.parse(known) as TrustBundle).spiffe_sequence >= bundle.spiffe_sequence) return true;
    this.meta.set("trustBundle", JSON.stringify(bundle));
    return await this.publisher.changed();
  }

  /** Gateways' authorization denials, bounded by authz-audit.ts before they join the audit log. */
  async recordAuthzAudit(entries: AuthzAuditEntry[]): Promise<{ stored: number; dropped: number }> {
    const { stored, dropped } = this.authzCap.admit(entries, Date.now());
    this.auditLog.appendAuthz(stored);
    return { stored: stored.length, dropped };
  }

  async snapshot(): Promise<MeshSnapshot> {
    return this.buildSnapshot();
  }

  async refreshJwks(uri: string): Promise<boolean> {
    // Only a URI the current version names: a gateway cannot make the store fetch anything else.
    if (!this.currentJwksUris().includes(uri)) return false;
    const { started, changed } = await this.jwks.refreshOne(uri);
    if (changed) await this.publisher.changed();
    return started;
  }

  /** Fetches every jwksUri a new version names (all of them: a key may have rotated since); the failures. */
  private async fetchJwks(documents: Json[]): Promise<{ uri: string; error: string }[]> {
    const uris = jwksUrisOf(documents);
    this.jwks.forgetAllBut(uris);
    if (!uris.length) return [];
    const { errors } = await this.jwks.refresh(uris, { all: true });
    await this.scheduleJwks(uris);
    return errors;
  }

  private currentJwksUris(): string[] {
    return jwksUrisOf(this.versions.documents(this.versions.current()));
  }

  private async scheduleJwks(uris = this.currentJwksUris()): Promise<void> {
    const due = this.jwks.nextDueAt(uris);
    if (due !== undefined) await this.alarmBy(Math.max(due, Date.now() + 1));
  }

  /**
   * The alarm, should this object restart between storing a version and publishing it (the JWK Set
   * fetches before the publish take time): it finds the store behind and publishes. Harmless otherwise.
   */
  private publishSoonAfterRestart(): Promise<void> {
    return this.alarmBy(Date.now() + REPUBLISH_DELAY_MS);
  }

  /** One alarm serves publishing retries and JWKS refreshes: it is only ever moved earlier. */
  private async alarmBy(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  private buildSnapshot(): MeshSnapshot {
    const row = this.versions.row(this.versions.current());
    const trustBundle = this.meta.get("trustBundle");
    const sources: string[] = row ? JSON.parse(row.sources) : [];
    const { documents, schema } = row ? this.snapshotDocuments.of(row.version, row.documents, sources) : { documents: [], schema: SCHEMA_FINGERPRINT };
    const jwksUris = jwksUrisOf(documents);
    return {
      version: row?.version ?? 0,
      documents,
      schema,
      sources,
      registry: this.registry.all(),
      registryVersion: this.meta.number("registryVersion"),
      publishedAt: Date.now(),
      bundleHash: this.meta.get("bundleHash") ?? "",
      bundleBuiltAt: this.meta.number("bundleBuiltAt"),
      ...(trustBundle && { trustBundle: JSON.parse(trustBundle) as TrustBundle }),
      ...(jwksUris.length && { jwks: this.jwks.published(jwksUris) }),
    };
  }

  /**
   * Retries publishing while KV is behind, and fetches the JWK Sets that are due; does nothing else
   * (safe to run twice). The next alarm is set for whatever comes due next.
   */
  override async alarm(): Promise<void> {
    if (this.publisher.behind) await this.publisher.flush();
    const uris = this.currentJwksUris();
    if (!uris.length) return;
    const { changed } = await this.jwks.refresh(uris);
    if (changed) await this.publisher.changed();
    await this.scheduleJwks(uris);
  }

  private async commit(
    request: { baseVersion?: number; dryRun?: boolean; allowEmpty?: boolean; actor: string; message?: string },
    documents: Json[],
    sources: string[],
    action: "apply" | "rollback",
  ): Promise<ApplyResult> {
    const serialized = documents.map((document) => JSON.stringify(document));
    const tooBig = policySetTooBig(serialized, sources);
    if (tooBig) return { ok: false, status: 413, reason: "payload_too_large", message: tooBig };
    if (!documents.length && !request.allowEmpty) {
      const what = action === "apply" ? "documents is empty" : "that version has no documents";
      return { ok: false, status: 400, reason: "empty_policy_set", message: `${what}: it would remove every route and backend; set "allowEmpty": true to do that on purpose` };
    }
    const checked = parsePolicySet(documents.map((value, index): SourceDocument => ({ source: sources[index] ?? "request", index, value })));
    if (!checked.ok) return { ok: false, status: 400, errors: checked.errors, messages: checked.errors.map(formatError) };
    const warnings = checked.warnings.map(formatError);
    const fromVersion = this.versions.current();
    if (request.baseVersion !== undefined && request.baseVersion !== fromVersion) {
      return { ok: false, status: 409, currentVersion: fromVersion, message: `version conflict: the change was prepared against version ${request.baseVersion}, but the current version is ${fromVersion}` };
    }
    const changes = diffDocuments(this.versions.documents(fromVersion), documents);
    // The current version's objects again: a version that changes nothing would only be noise in history and audit.
    if (!changes.length && fromVersion > 0) {
      return { ok: true, dryRun: Boolean(request.dryRun), unchanged: true, fromVersion, version: fromVersion, changes, published: !this.publisher.behind, warnings };
    }
    if (request.dryRun) return { ok: true, dryRun: true, unchanged: false, fromVersion, version: fromVersion, changes, published: false, warnings };
    let change = 0;
    const version = this.versions.append(documents, serialized, sources, request.actor, action, request.message ?? "", (version) => {
      this.recordAudit(request.actor, action, fromVersion, version, { message: request.message ?? "", changes });
      change = this.publisher.record();
    });
    // Everything above ran without an await: two concurrent applies cannot both pass the version check;
    // the version, its audit entry and its change to publish are one transaction.
    await this.publishSoonAfterRestart();
    // The version's JWK Sets are fetched before it is published, so its first snapshot carries them.
    for (const { uri, error } of await this.fetchJwks(documents)) {
      warnings.push(`jwksUri ${uri} could not be fetched (${error}): tokens of its issuer are refused until a fetch succeeds; the store tries again`);
    }
    const published = await this.publisher.publish(change);
    return { ok: true, dryRun: false, unchanged: false, fromVersion, version, changes, published, warnings };
  }

  private recordAudit(actor: string, action: string, fromVersion: number | null, toVersion: number | null, detail: { changes: ObjectChange[] } & Record<string, unknown>): void {
    this.auditLog.append(Date.now(), actor, action, fromVersion, toVersion, { ...detail, ...auditedChanges(detail.changes) });
  }
}
