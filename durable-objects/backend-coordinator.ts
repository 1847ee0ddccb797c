/**
 * BackendCoordinator: one Durable Object per backend, named by it, holding what every isolate must
 * agree on about that backend: its run-time registered endpoints (heartbeats, TTL expiry, drain) and
 * its endpoints' health. Isolates send it batched outcome reports in the background; each answer
 * carries the current ejections, so no request ever waits on it. An alarm runs only while something
 * will expire: an ejection to end (half-open probing starts) or a registration to time out.
 */
import { DurableObject } from "cloudflare:workers";
import { checkEndpointUrl } from "../policies/endpoint-url.ts";
import { applyReports, expireEjections, nextEjectionEnd, type EndpointHealth } from "../common/outlier-detection.ts";
import { configStoreOf, type BackendCoordinatorApi, type HealthReport, type HealthSnapshot, type Namespace, type RegisteredEndpoint, type Registration, type RegisterResult } from "../common/protocol.ts";
import { AuditOutbox } from "./audit-outbox.ts";
import { EndpointRows } from "./endpoint-rows.ts";
import { MetaTable } from "./meta.ts";

export interface BackendCoordinatorEnv {
  CONFIG_STORE?: Namespace;
}

const RETRY_PUBLISH_MS = 5_000;
type RegistryAction = "register" | "drain" | "deregister";

/** Registered endpoints one backend takes at most (as many as its static endpoints may be). */
export const MAX_REGISTERED_ENDPOINTS = 256;

export class BackendCoordinator extends DurableObject<BackendCoordinatorEnv> implements BackendCoordinatorApi {
  private readonly sql: SqlStorage;
  private readonly meta: MetaTable;
  private readonly outbox: AuditOutbox;
  private rows!: EndpointRows;
  private health = new Map<string, EndpointHealth>();
  private healthVersion = 0;

  constructor(ctx: DurableObjectState, env: BackendCoordinatorEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.meta = new MetaTable(this.sql);
    this.outbox = new AuditOutbox(this.sql, () => `coordinator:${this.name()}`);
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec("CREATE TABLE IF NOT EXISTS health (endpoint TEXT PRIMARY KEY, state TEXT NOT NULL)");
      this.rows = new EndpointRows(this.sql);
      for (const row of this.sql.exec<{ endpoint: string; state: string }>("SELECT * FROM health").toArray()) {
        this.health.set(row.endpoint, JSON.parse(row.state));
      }
      this.healthVersion = this.meta.number("healthVersion");
      // Registrations stored before the address checks existed: drop the unsafe ones and republish the rest.
      const unsafe = this.sql.exec<{ url: string }>("SELECT url FROM endpoints").toArray().filter((row) => !checkEndpointUrl(row.url).ok);
      for (const { url } of unsafe) this.sql.exec("DELETE FROM endpoints WHERE url = ?", url);
      if (unsafe.length) this.meta.set("registrySeq", this.meta.number("registrySeq") + 1);
      // Something still to send (records of changes, a registry list) has its alarm, whatever stopped this object before.
      if (unsafe.length || this.retryDue) await this.scheduleAlarm();
    });
  }

  // --- Health -------------------------------------------------------------------------------

  async report(report: HealthReport): Promise<HealthSnapshot> {
    const now = Date.now();
    const before = this.ejectionKey();
    if (report.endpoints) this.forgetOthers(new Set(report.endpoints));
    const changed = applyReports(report.config, this.health, report.totalEndpoints, report.reports, now);
    this.persistHealth(changed);
    if (this.ejectionKey() !== before) this.bumpHealthVersion();
    await this.scheduleAlarm();
    return this.snapshot();
  }

  async snapshot(): Promise<HealthSnapshot> {
    const endpoints: HealthSnapshot["endpoints"] = {};
    for (const [endpoint, health] of this.health) {
      if (health.state !== "healthy") {
        endpoints[endpoint] = { state: health.state, since: health.lastChangeAt, until: health.ejectedUntil, ejections: health.ejections };
      }
    }
    return { version: this.healthVersion, endpoints };
  }

  // --- Registry -----------------------------------------------------------------------------

  /**
   * Registers (or renews) an endpoint. The admin API has checked the URL and the Backend's allowed
   * hosts; the address checks run again here, so that nothing unsafe is stored whoever calls.
   */
  async register(backend: string, registration: Registration, actor?: string): Promise<RegisterResult> {
    const checked = checkEndpointUrl(registration.url);
    if (!checked.ok) return { ok: false, message: `url: ${checked.message}` };
    this.remember(backend);
    const registered = this.registered();
    const existing = registered.find((endpoint) => endpoint.url === checked.origin);
    // The registry travels in every snapshot: one backend's list must not grow it without bound.
    if (!existing && registered.length >= MAX_REGISTERED_ENDPOINTS) {
      return { ok: false, message: `url: ${backend} has ${MAX_REGISTERED_ENDPOINTS} registered endpoints, the most it takes: deregister one (or let one expire) first` };
    }
    const endpoint: RegisteredEndpoint = {
      url: checked.origin,
      weight: registration.weight ?? 1,
      ...(registration.zone !== undefined && { zone: registration.zone }),
      ...(registration.version !== undefined && { version: registration.version }),
      // A renewal keeps an operator's drain (an agent that renews by registering again must not undo it).
      draining: this.rows.draining(checked.origin, Date.now()),
    };
    const { zone, version } = endpoint;
    this.ctx.storage.transactionSync(() => {
      this.rows.put(endpoint, registration.ttlMs, Date.now());
      this.audit(actor, "register", { backend, url: endpoint.url, weight: endpoint.weight, ttlSeconds: registration.ttlMs / 1000, ...(zone !== undefined && { zone }), ...(version !== undefined && { version }) });
    });
    await this.scheduleAlarm(); // before any call out: the record is sent by the alarm if this object stops now
    if (JSON.stringify(existing) !== JSON.stringify(endpoint)) await this.publishRegistry();
    await this.deliverAudit();
    return { ok: true, endpoint };
  }

  /** Extends a registration by its TTL; false when the endpoint is not (or no longer) registered. */
  async heartbeat(backend: string, url: string): Promise<boolean> {
    this.remember(backend);
    // An endpoint whose TTL passed is gone, whether or not the alarm has deleted its row yet.
    const now = Date.now();
    if (!this.update("UPDATE endpoints SET expires_at = ? + ttl_ms WHERE url = ? AND expires_at > ?", now, url, now)) return false;
    await this.scheduleAlarm();
    return true;
  }

  async drain(backend: string, url: string, actor?: string): Promise<boolean> {
    this.remember(backend);
    if (!this.auditedUpdate(actor, "drain", { backend, url }, "UPDATE endpoints SET draining = 1 WHERE url = ?", url)) return false;
    await this.scheduleAlarm();
    await this.publishRegistry();
    await this.deliverAudit();
    return true;
  }

  async deregister(backend: string, url: string, actor?: string): Promise<boolean> {
    this.remember(backend);
    if (!this.auditedUpdate(actor, "deregister", { backend, url }, "DELETE FROM endpoints WHERE url = ?", url)) return false;
    await this.scheduleAlarm();
    await this.publishRegistry();
    await this.deliverAudit();
    return true;
  }

  async endpoints(): Promise<(RegisteredEndpoint & { expiresAt: number })[]> {
    return this.rows.list();
  }

  // --- Alarm ----------------------------------------------------------------------------------

  /**
   * Ends due ejections, expires dead registrations and retries a failed registry publish. Safe to run
   * twice or late: it acts only on what is due at the time it runs.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const ended = expireEjections(this.health, now);
    if (ended.size) {
      this.persistHealth(ended);
      this.bumpHealthVersion();
    }
    const expired = this.update("DELETE FROM endpoints WHERE expires_at <= ?", now);
    if (expired) await this.publishRegistry();
    else if (this.registryBehind) await this.sendRegistry();
    await this.outbox.deliver(this.env.CONFIG_STORE);
    await this.scheduleAlarm();
  }

  private async scheduleAlarm(): Promise<void> {
    const existing = await this.ctx.storage.getAlarm();
    const candidates = [nextEjectionEnd(this.health)];
    candidates.push(this.sql.exec<{ next: number | null }>("SELECT MIN(expires_at) AS next FROM endpoints").one().next ?? undefined);
    // A retry keeps an earlier alarm: reports and heartbeats come every second or so, and each
    // reschedules, so a retry always set 5 s ahead would never come.
    // (An alarm already due is the one running now, or about to: it does not count as the retry.)
    const now = Date.now();
    if (this.retryDue) candidates.push(Math.min(existing !== null && existing > now ? existing : Infinity, now + RETRY_PUBLISH_MS));
    const next = candidates.filter((at): at is number => at !== undefined).sort((a, b) => a - b)[0];
    if (next === undefined) {
      if (existing !== null) await this.ctx.storage.deleteAlarm();
    } else if (existing !== next) await this.ctx.storage.setAlarm(next);
  }

  /** Something is still to send to the ConfigStore: the registry list, or audit records. */
  private get retryDue(): boolean {
    return Boolean(this.env.CONFIG_STORE) && (this.registryBehind || this.outbox.pending);
  }

  /** A change to the registered endpoints: numbered, then sent to the ConfigStore. */
  private async publishRegistry(): Promise<void> {
    this.meta.set("registrySeq", this.meta.number("registrySeq") + 1);
    await this.sendRegistry();
  }

  private get registryBehind(): boolean {
    return this.meta.number("registrySent") < this.meta.number("registrySeq");
  }

  /** Sends the current list with its number; on failure the alarm sends it again. */
  private async sendRegistry(): Promise<void> {
    const store = this.env.CONFIG_STORE;
    if (!store) return;
    const seq = this.meta.number("registrySeq");
    try {
      await configStoreOf(store).publishRegistry(this.name(), this.registered(), seq);
      if (seq > this.meta.number("registrySent")) this.meta.set("registrySent", seq);
    } catch (error) {
      console.error(JSON.stringify({ level: "error", message: "registry publish failed; the alarm retries it", backend: this.name(), error: String(error) }));
      await this.scheduleAlarm();
    }
  }

  /**
   * Keeps the audit record of a change, inside the change's transaction, for `deliverAudit`. Calls
   * without an actor (the alarm's expiries, tests) are not audited.
   */
  private audit(actor: string | undefined, action: RegistryAction, detail: { [key: string]: string | number }): void {
    if (actor !== undefined) this.outbox.add({ actor, action, detail });
  }

  /** A write and its audit record in one transaction, if the write touched a row; how many it touched. */
  private auditedUpdate(actor: string | undefined, action: RegistryAction, detail: { [key: string]: string }, query: string, ...bindings: SqlStorageValue[]): number {
    return this.ctx.storage.transactionSync(() => {
      const touched = this.update(query, ...bindings);
      if (touched) this.audit(actor, action, detail);
      return touched;
    });
  }

  /** Sends kept audit records to the ConfigStore (the alarm sends again what fails), then sets the alarm. */
  private async deliverAudit(): Promise<void> {
    await this.outbox.deliver(this.env.CONFIG_STORE);
    await this.scheduleAlarm();
  }

  /** Runs a write; how many rows it touched. */
  private update(query: string, ...bindings: SqlStorageValue[]): number {
    const cursor = this.sql.exec(query, ...bindings);
    cursor.toArray();
    return cursor.rowsWritten;
  }

  private registered(): RegisteredEndpoint[] {
    return this.rows.list().map(({ expiresAt: _, ...endpoint }) => endpoint);
  }

  /** The backend this object serves: callers name it, since an object cannot always see its own name. */
  private name(): string {
    return this.meta.get("backend") ?? this.ctx.id.name ?? "";
  }

  private remember(backend: string): void {
    if (this.meta.get("backend") !== backend) this.meta.set("backend", backend);
  }

  /**
   * Drops the health of endpoints the backend no longer has (deregistered, expired, removed). A
   * running ejection is kept until it ends: the reporter's table may only be behind.
   */
  private forgetOthers(current: Set<string>): void {
    for (const [endpoint, health] of this.health) {
      if (current.has(endpoint) || health.state === "ejected") continue;
      this.health.delete(endpoint);
      this.sql.exec("DELETE FROM health WHERE endpoint = ?", endpoint);
    }
  }

  private ejectionKey(): string {
    return [...this.health].filter(([, h]) => h.state !== "healthy").map(([e, h]) => `${e}:${h.state}:${h.ejectedUntil}`).join("|");
  }

  private persistHealth(endpoints: Set<string>): void {
    for (const endpoint of endpoints) {
      this.sql.exec("INSERT OR REPLACE INTO health (endpoint, state) VALUES (?, ?)", endpoint, JSON.stringify(this.health.get(endpoint)));
    }
  }

  private bumpHealthVersion(): void {
    this.healthVersion++;
    this.meta.set("healthVersion", this.healthVersion);
  }
}
