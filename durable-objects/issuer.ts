/**
 * Issuer: the mesh's certificate authority, in JWT form. One Durable Object per trust domain
 * (`issuer`), control plane only: it signs workload tokens (JWT-SVIDs) and owns the signing keys,
 * and the public keys reach gateways through the ConfigStore's snapshot, never by a request calling it.
 * The keys' lifecycle (rotation, pre-publication, retirement) is key-schedule.ts's, applied by every
 * call and by the alarm; `revoke` deletes a key at once, and if it was signing, the published next
 * key (or a new one) signs from that moment. MESH_ISSUER_KEY (a private JWK, a secret) pins the
 * signing key for local runs and tests: no rotation. The alarm is set only while something is due
 * (a key to publish, activate or drop, a push or audit delivery to retry).
 */
import { DurableObject } from "cloudflare:workers";
import type { TrustBundle } from "../common/identity/bundle.ts";
import { identityConfig, type IdentityConfig, type IdentityEnv } from "../common/identity/config.ts";
import { credentialMatchesAny, parseCredentials } from "../common/identity/credentials.ts";
import { REFUSALS } from "../common/identity/reasons.ts";
import { parseSpiffeId } from "../common/identity/spiffe-id.ts";
import { configStoreOf, type CreateCredentialResult, type CredentialInfo, type DeleteCredentialResult, type ExchangeRequest, type ExchangeResult, type IssueRequest, type IssueResult, type IssuerApi, type Namespace, type RevokeResult, type SigningKeyInfo } from "../common/protocol.ts";
import { WorkloadCredentials } from "./workload-credentials.ts";
import { AuditOutbox } from "./audit-outbox.ts";
import { MetaTable } from "./meta.ts";
import { generateKey, pinnedKey, type PrivateKey } from "../common/identity/private-key.ts";
import { checkIssueRequest, signSvid } from "../common/identity/svid.ts";
import { advanceKeys, keyDueTimes } from "./key-schedule.ts";
import { signingKeyOf, SigningKeys, type KeyRow } from "./signing-keys.ts";

export interface IssuerEnv extends IdentityEnv {
  CONFIG_STORE?: Namespace;
  /** A private JWK (ES256 or EdDSA) that pins the signing key: `wrangler secret put MESH_ISSUER_KEY`. */
  MESH_ISSUER_KEY?: string;
  /** HTTP origins' bootstrap credentials, hashed: `{ "<SPIFFE ID>": "sha256:<hex>" }` (a secret). */
  MESH_WORKLOAD_CREDENTIALS?: string;
}

const RETRY_PUSH_MS = 5_000;

export class Issuer extends DurableObject<IssuerEnv> implements IssuerApi {
  private readonly meta: MetaTable;
  private readonly keys: SigningKeys;
  /** Audit records of the admin API's changes here, written with the change (audit-outbox.ts); from the id, which every wake has. */
  private readonly outbox: AuditOutbox;
  private readonly config: IdentityConfig | Error;
  private readonly pinned: Promise<PrivateKey> | undefined;
  private readonly signers = new Map<string, Promise<CryptoKey>>();
  private credentialStore: WorkloadCredentials | undefined;
  /** Calls that change keys run one at a time (key generation awaits, and calls interleave at awaits). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: IssuerEnv) {
    super(ctx, env);
    this.meta = new MetaTable(ctx.storage.sql);
    this.keys = new SigningKeys(ctx.storage.sql);
    this.outbox = new AuditOutbox(ctx.storage.sql, () => `issuer:${ctx.id.toString()}`);
    this.config = attempt(() => identityConfig(env));
    this.pinned = env.MESH_ISSUER_KEY ? pinnedKey(env.MESH_ISSUER_KEY) : undefined;
    this.pinned?.catch(() => undefined);
    // Records kept when this object last stopped have their alarm soon, whatever stopped it (a key's far alarm too: the alarm re-plans).
    ctx.blockConcurrencyWhile(async () => {
      const alarm = await ctx.storage.getAlarm();
      if (env.CONFIG_STORE && this.outbox.pending && !(alarm !== null && alarm <= Date.now() + RETRY_PUSH_MS)) await ctx.storage.setAlarm(Date.now() + RETRY_PUSH_MS);
    });
  }

  async bundle(): Promise<TrustBundle> {
    await this.serially((config) => this.advance(config, Date.now()));
    // The ConfigStore gets the change in the background: a caller never waits on it.
    this.ctx.waitUntil(this.push());
    return this.currentBundle();
  }

  async issue(request: IssueRequest): Promise<IssueResult> {
    const config = this.settings();
    const checked = checkIssueRequest(config, request);
    if (typeof checked === "string") return { ok: false, status: 400, reason: "invalid_request", message: checked };
    return this.sign(config, checked.subject, checked.audience, checked.lifetimeMs);
  }

  private async sign(config: IdentityConfig, subject: string, audience: string, lifetimeMs: number): Promise<IssueResult> {
    const result = await this.serially(async () => {
      const now = Date.now();
      await this.advance(config, now);
      const signer = this.keys.signer(now);
      if (!signer) throw new Error("no signing key");
      const iat = Math.floor(now / 1000);
      const exp = iat + Math.floor(lifetimeMs / 1000);
      const token = await signSvid(
        { alg: signer.alg, kid: signer.kid, signingKey: await this.cryptoKey(signer) },
        { issuer: config.issuer, subject, audience, issuedAt: iat, expiresAt: exp },
      );
      this.keys.signed(signer.kid, exp * 1000);
      return { ok: true as const, token, expiresAt: exp * 1000, kid: signer.kid, sequence: this.meta.number("sequence") };
    });
    this.ctx.waitUntil(this.push());
    return result;
  }

  /**
   * A token for the mesh (aud: the gateway) for a workload that proves itself with its bootstrap
   * credential, from MESH_WORKLOAD_CREDENTIALS or made through the admin API. Unknown service, wrong
   * secret, too short a secret: one answer, so a caller learns nothing about which services have credentials.
   */
  async exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    const config = this.settings();
    const { subject, credential } = request;
    const hashes = typeof subject === "string" ? this.workloadCredentials().hashesOf(subject) : [];
    const refused = { ok: false, status: 401, reason: "invalid_credential", message: `invalid_credential: ${REFUSALS.invalid_credential}` } as const;
    if (typeof credential !== "string" || !(await credentialMatchesAny(credential, hashes))) return refused;
    const id = parseSpiffeId(subject as string);
    if (!id || id.trustDomain !== config.trustDomain) return refused;
    const issued = await this.sign(config, id.id, config.gatewayId, config.tokenLifetimeMs);
    if (!issued.ok) return { ok: false, status: 401, reason: "invalid_credential", message: `invalid_credential: ${issued.message}` };
    return { ok: true, token: issued.token, expiresAt: issued.expiresAt };
  }

  async createCredential(spiffeId: string, actor?: string): Promise<CreateCredentialResult> {
    const result = await this.workloadCredentials().create(spiffeId, this.settings().trustDomain, this.auditing(actor, "create_credential"));
    await this.push();
    return result;
  }

  async credentials(): Promise<CredentialInfo[]> {
    return this.workloadCredentials().list();
  }

  async deleteCredential(spiffeId: string, actor?: string): Promise<DeleteCredentialResult> {
    const result = this.workloadCredentials().delete(spiffeId, this.auditing(actor, "delete_credential"));
    await this.push();
    return result;
  }

  async keyInfo(): Promise<SigningKeyInfo[]> {
    return this.describe(Date.now());
  }

  /** Publishes the next key now, to sign once MESH_KEY_PREPUBLISH_MS has passed (no-op if one is waiting). */
  async rotate(actor?: string): Promise<SigningKeyInfo[]> {
    await this.serially(async (config) => {
      if (this.pinned) return;
      const now = Date.now();
      await this.advance(config, now);
      const key = this.keys.all().some((row) => row.retired_at === null && row.activates_at > now) ? undefined : await generateKey();
      this.ctx.storage.transactionSync(() => {
        if (key) this.keys.insert(key, now, now + config.prepublishMs);
        const next = this.describe(now).filter((info) => info.state === "published").map((info) => info.kid);
        // A rotate while the next key already waits changes nothing, and is no change to audit.
        if (key && actor !== undefined) this.outbox.add({ actor, action: "rotate_key", detail: { next } });
      });
      await this.settle(config, now);
    });
    await this.push();
    return this.describe(Date.now());
  }

  /** Removes a key from the bundle at once; a signing key is replaced by a new one that signs at once. */
  async revoke(kid: string, actor?: string): Promise<RevokeResult> {
    const result = await this.serially(async (config): Promise<RevokeResult> => {
      const now = Date.now();
      await this.advance(config, now);
      const row = this.keys.all().find((candidate) => candidate.kid === kid);
      if (!row) return { ok: false, status: 404, reason: "not_found", message: `no published key has kid ${JSON.stringify(kid)}` };
      const pin = this.pinned && (await this.pinned);
      // Only the key the secret pins now: one it pinned before is an ordinary retired key.
      if (pin && pin.kid === row.kid) return { ok: false, status: 409, reason: "key_pinned", message: "this key is pinned by MESH_ISSUER_KEY: replace that secret to change it" };
      const signing = this.keys.signer(now)?.kid === kid;
      // Made before the transaction: no await may split the removal from its replacement and record.
      const fresh = signing && !this.keys.all().some((candidate) => candidate.retired_at === null && candidate.activates_at > now) ? await generateKey() : undefined;
      this.ctx.storage.transactionSync(() => {
        this.keys.remove(kid);
        if (signing) {
          // The next key, if one is published already, signs at once: verifiers have it. Otherwise a new
          // key must sign unannounced; verifiers learn it by the snapshot or an unknown-kid refresh.
          const next = this.keys.all().find((candidate) => candidate.retired_at === null && candidate.activates_at > now);
          if (next) this.keys.activate(next.kid, now);
          else this.keys.insert(fresh!, now, now);
        }
        if (actor !== undefined) this.outbox.add({ actor, action: "revoke_key", detail: { kid } });
      });
      this.signers.delete(kid);
      await this.settle(config, now);
      console.log(JSON.stringify({ level: "warn", message: "signing key revoked", kid, wasSigning: signing }));
      return { ok: true, keys: this.describe(now) };
    });
    await this.push();
    return result;
  }

  override async alarm(): Promise<void> {
    await this.serially((config) => this.advance(config, Date.now()));
    await this.push();
  }

  /** Moves every key to the state its due times give it at `now` (key-schedule.ts), then publishes and schedules. */
  private async advance(config: IdentityConfig, now: number): Promise<void> {
    const replaced = await advanceKeys(this.keys, config, this.pinned && (await this.pinned), now);
    if (replaced) this.signers.delete(replaced); // its imported CryptoKey was of the replaced material
    await this.settle(config, now);
  }

  /** Numbers a changed key set (spiffe_sequence) and sets the alarm to the next due time (or a push retry). */
  private async settle(config: IdentityConfig, now: number): Promise<void> {
    const rows = this.keys.all();
    const published = rows.map((row) => row.public_jwk).join(",");
    if (published !== this.meta.get("bundleKeys")) {
      this.meta.set("bundleKeys", published);
      // Verifiers take only a higher sequence, so it must never fall behind one they have seen, even
      // if this object's storage is restored from an older copy: the clock gives such a floor.
      this.meta.set("sequence", Math.max(this.meta.number("sequence") + 1, now));
    }
    const due = keyDueTimes(this.keys, config, Boolean(this.pinned), now);
    const existing = await this.ctx.storage.getAlarm();
    // A push or audit delivery still to make (failed, or not tried yet) is tried again by the alarm,
    // which keeps an earlier time: each token issued settles, and must not push the retry back.
    if (this.pushBehind || (this.env.CONFIG_STORE && this.outbox.pending)) due.push(Math.min(existing !== null && existing > now ? existing : Infinity, now + RETRY_PUSH_MS));
    const next = due.length ? Math.max(now + 1, Math.min(...due)) : undefined;
    if (next === undefined) {
      if (existing !== null) await this.ctx.storage.deleteAlarm();
    } else if (existing !== next) await this.ctx.storage.setAlarm(next);
  }

  /**
   * Sends the ConfigStore the bundle, when it has changed since the last send, and the audit records
   * kept; the alarm retries a failure.
   */
  private async push(): Promise<void> {
    const store = this.env.CONFIG_STORE;
    const sequence = this.meta.number("sequence");
    if (!store || !(this.pushBehind || this.outbox.pending)) return;
    // The retry alarm first: if this object stops while the calls below are out, the alarm sends again.
    await this.serially((config) => this.settle(config, Date.now()));
    await this.outbox.deliver(store);
    if (this.pushBehind) {
      try {
        await configStoreOf(store).publishTrustBundle(this.currentBundle());
        if (sequence > this.meta.number("pushed")) this.meta.set("pushed", sequence);
      } catch (error) {
        console.error(JSON.stringify({ level: "error", message: "trust bundle push failed; the alarm retries it", error: String(error) }));
      }
    }
    // The alarm: a retry while something is still to send, else the next key event's (advance, so
    // that an event that came due meanwhile is acted on, not skipped).
    await this.serially((config) => this.advance(config, Date.now()));
  }

  private get pushBehind(): boolean {
    return Boolean(this.env.CONFIG_STORE) && this.meta.number("pushed") < this.meta.number("sequence");
  }

  private currentBundle(): TrustBundle {
    const config = this.settings();
    return {
      keys: this.keys.all().map((row) => JSON.parse(row.public_jwk)),
      spiffe_sequence: this.meta.number("sequence"),
      // Verifiers that fetch the bundle must see a new key before it signs: twice per pre-publication.
      spiffe_refresh_hint: Math.max(1, Math.round(config.prepublishMs / 2000)),
    };
  }

  private cryptoKey(row: KeyRow): Promise<CryptoKey> {
    let key = this.signers.get(row.kid);
    if (!key) this.signers.set(row.kid, (key = signingKeyOf(row)));
    return key;
  }

  private describe(now: number): SigningKeyInfo[] {
    return this.keys.describe(now, this.settings().clockSkewMs);
  }

  /** Parsed on first use: a malformed secret fails the calls that need it, not the object. */
  private workloadCredentials(): WorkloadCredentials {
    const transaction = (write: () => void) => this.ctx.storage.transactionSync(write);
    return (this.credentialStore ??= new WorkloadCredentials(this.ctx.storage.sql, parseCredentials(this.env.MESH_WORKLOAD_CREDENTIALS), transaction));
  }

  /** What keeps a credential change's audit record (none without an actor). */
  private auditing(actor: string | undefined, action: "create_credential" | "delete_credential"): ((spiffeId: string) => void) | undefined {
    return actor === undefined ? undefined : (spiffeId) => this.outbox.add({ actor, action, detail: { spiffeId } });
  }

  private settings(): IdentityConfig {
    if (this.config instanceof Error) throw this.config;
    return this.config;
  }

  private serially<T>(run: (config: IdentityConfig) => Promise<T>): Promise<T> {
    const config = this.settings();
    const next = this.queue.then(() => run(config));
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function attempt<T>(make: () => T): T | Error {
  try {
    return make();
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
