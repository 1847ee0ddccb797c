/**
 * The protocol between the gateway (workers/) and the control plane (durable-objects/): what the
 * control plane publishes, what isolates report and lease, and each Durable Object's RPC methods as
 * callers see them. Both sides import this file; neither imports the other.
 */
import type { PolicyError } from "../policies/errors.ts";
import type { SigningAlgorithm, TrustBundle } from "./identity/bundle.ts";
import type { PublicJwk } from "./identity/jwk-set.ts";
import type { OutlierConfig, EndpointReport } from "./outlier-detection.ts";

/** JSON as it crosses Durable Object RPC (`unknown` does not: RPC types map it to never). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** An endpoint registered at run time (admin API), live until its TTL passes without a heartbeat. */
export interface RegisteredEndpoint {
  url: string;
  weight: number;
  zone?: string;
  version?: string;
  /** A draining endpoint gets no new requests; it leaves when it deregisters or its TTL passes. */
  draining: boolean;
}

/**
 * Everything a gateway isolate needs to build its routing table, published by the ConfigStore to
 * Workers KV on every change and polled by isolates: one key, one writer.
 */
export interface MeshSnapshot {
  version: number;
  /**
   * The version's documents as validated, defaults applied (policies/normalized.ts), for gateways to
   * compile without validating again. The documents as written stay in the ConfigStore's history.
   */
  documents: Json[];
  /** SCHEMA_FINGERPRINT of the schemas that normalized `documents`; "" when they were not (then gateways validate them). */
  schema: string;
  sources: string[];
  /** Backend name → its registered endpoints. */
  registry: Record<string, RegisteredEndpoint[]>;
  registryVersion: number;
  publishedAt: number;
  /** Hash and build time of the policy files bundled with the deploy that seeded or last updated the store. */
  bundleHash: string;
  bundleBuiltAt: number;
  /** The issuer's public keys (absent until the issuer first pushed them, and in older snapshots). */
  trustBundle?: TrustBundle;
  /**
   * End-user issuers' keys, by the RequestAuthentication jwksUri the ConfigStore fetched them from
   * (only the URIs the current version names, and only once a fetch succeeded).
   */
  jwks?: Record<string, PublishedJwks>;
}

/** The last good JWK Set of one jwksUri, as the ConfigStore fetched and checked it (jwk-set.ts). */
export interface PublishedJwks {
  keys: PublicJwk[];
  /** Grows whenever the keys change, so an isolate can take a set only when it is newer. */
  sequence: number;
  /** Epoch ms of the fetch that brought these keys. */
  fetchedAt: number;
}

export const SNAPSHOT_KEY = "mesh/snapshot";

export interface VersionSummary {
  version: number;
  createdAt: number;
  actor: string;
  action: "seed" | "deploy" | "apply" | "rollback";
  message: string;
  documents: number;
}

export interface FieldChange {
  path: string;
  from?: Json;
  to?: Json;
}

export interface ObjectChange {
  object: string;
  change: "added" | "removed" | "changed";
  fields?: FieldChange[];
}

export type ApplyResult =
  /**
   * `published`: the version reached KV (else the alarm keeps trying; gateways see it then).
   * `unchanged`: the documents equal the current version's, so no version was made (`version` is the current one).
   * `warnings`: what validation noted without refusing the set (routes that attach to no listener), as `npm run validate` prints it.
   */
  | { ok: true; dryRun: boolean; unchanged: boolean; fromVersion: number; version: number; changes: ObjectChange[]; published: boolean; warnings: string[] }
  | { ok: false; status: 400; errors: PolicyError[]; messages: string[] }
  | { ok: false; status: 409; currentVersion: number; message: string }
  /** reason: "empty_policy_set" (400), "not_found" (404), "payload_too_large" (413). */
  | { ok: false; status: 400 | 404 | 413; reason: string; message: string };

/**
 * A change the admin API made outside the configuration (the registry, signing keys, credentials),
 * for the audit log: `actor` is the verified caller.
 */
export interface AuditRecord {
  actor: string;
  action: "register" | "deregister" | "drain" | "rotate_key" | "revoke_key" | "create_credential" | "delete_credential";
  /** What changed (never a secret); at most AUDIT_DETAIL_BYTES as JSON. */
  detail: { [key: string]: Json };
}

export const AUDIT_DETAIL_BYTES = 16_384;

/** An audit record as the object that made the change delivers it: numbered by that object, stamped with the change's time. */
export type OutboxRecord = AuditRecord & { seq: number; at: number };

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  fromVersion: number | null;
  toVersion: number | null;
  detail: Json;
}

/**
 * One authorization denial (or dry-run "would deny") as a gateway isolate reports it. `suppressed`:
 * how many earlier denials by the same policy this isolate counted but did not send (its rate limit).
 */
export interface AuthzAuditEntry {
  at: number;
  action: "authz.deny" | "authz.dry-run";
  /** The caller's SPIFFE ID, or "anonymous". */
  actor: string;
  /** "namespace/name" of the deciding policy. */
  policy: string;
  policyAction: "ALLOW" | "DENY";
  route: string | undefined;
  backend: string | undefined;
  method: string;
  path: string;
  requestId: string;
  suppressed: number;
}

/** Any Durable Object namespace, whichever class it binds: the helpers below type the stub by protocol. */
export interface Namespace {
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): unknown;
}

// --- ConfigStore ------------------------------------------------------------------------------

/** The policy set a deploy ships, as the gateway bundles it. */
export interface Bundle {
  hash: string;
  builtAt: number;
  documents: Json[];
  sources: string[];
}

export interface ApplyRequest {
  documents: Json[];
  /** File names for error messages, parallel to `documents`. */
  sources?: string[];
  /** The version the change was prepared against; a different current version is a 409 conflict. */
  baseVersion?: number;
  dryRun?: boolean;
  /** An empty set removes every route and backend: refused unless this says it is meant. */
  allowEmpty?: boolean;
  actor: string;
  message?: string;
}

export interface RollbackRequest {
  version: number;
  baseVersion?: number;
  allowEmpty?: boolean;
  actor: string;
  message?: string;
}

/**
 * The ConfigStore's RPC methods as callers see them. Results are plain JSON data, which RPC passes as
 * is; the generated RPC types would re-derive them through the recursive Json type, which is too deep
 * for the type checker, so callers use this interface (the class implements it).
 */
export interface ConfigStoreApi {
  seed(bundle: Bundle): Promise<number>;
  apply(request: ApplyRequest): Promise<ApplyResult>;
  rollback(request: RollbackRequest): Promise<ApplyResult>;
  /** The current version's spec of one Backend ("name" or "namespace/name"), for the admin API's registration checks. */
  backendSpec(backend: string): Promise<Json | undefined>;
  current(): Promise<{ version: number; documents: Json[]; sources: string[] } | undefined>;
  getVersion(version: number): Promise<{ summary: VersionSummary; documents: Json[] } | undefined>;
  history(limit?: number, before?: number): Promise<VersionSummary[]>;
  diff(from: number, to: number): Promise<ObjectChange[] | undefined>;
  audit(limit?: number, before?: number): Promise<AuditEntry[]>;
  /** Why a version cannot be read: never made, or dropped by retention (naming the versions kept). */
  versionMissing(version: number): Promise<string>;
  /**
   * Appends the audit records of changes outside the configuration, as the object that made them
   * delivers them (durable-objects/audit-outbox.ts): in its order, each once (a `seq` at or below
   * the source's last is one delivered before). Returns the source's last seq taken.
   */
  appendAudits(source: string, records: OutboxRecord[]): Promise<number>;
  snapshot(): Promise<MeshSnapshot>;
  publishRegistry(backend: string, endpoints: RegisteredEndpoint[], seq: number): Promise<boolean>;
  /** Called by the Issuer when its keys change; a bundle of a lower spiffe_sequence than the one held is ignored. */
  publishTrustBundle(bundle: TrustBundle): Promise<boolean>;
  /**
   * Appends gateways' authorization denials to the audit log (actions `authz.deny`, `authz.dry-run`),
   * capped per call and per minute; what the cap drops is counted into the next stored entry's `suppressed`.
   */
  recordAuthzAudit(entries: AuthzAuditEntry[]): Promise<{ stored: number; dropped: number }>;
  /**
   * Asks for a jwksUri of the current version to be fetched again soon (a gateway saw an unknown kid);
   * rate-limited per URI by the store, whatever the callers ask. Whether a fetch was started.
   */
  refreshJwks(uri: string): Promise<boolean>;
}

/** The mesh's one ConfigStore (control plane only: no request waits on it). */
export const configStoreOf = (namespace: Namespace): ConfigStoreApi =>
  namespace.get(namespace.idFromName("config")) as unknown as ConfigStoreApi;

// --- BackendCoordinator -----------------------------------------------------------------------

/** The ejections every isolate applies: endpoint → state, for endpoints that are not plainly healthy. */
export interface HealthSnapshot {
  version: number;
  /** `since`: when the endpoint entered its state; an ejection lasts until - since. */
  endpoints: Record<string, { state: "ejected" | "probing"; since: number; until: number; ejections: number }>;
}

export interface HealthReport {
  config: OutlierConfig;
  /** How many endpoints the backend has now (for maxEjectionPercent). */
  totalEndpoints: number;
  /** The backend's endpoints now, when the reporter knows them: health of any other endpoint is forgotten. */
  endpoints?: string[];
  reports: EndpointReport[];
}

export interface Registration {
  url: string;
  weight?: number;
  zone?: string;
  version?: string;
  ttlMs: number;
}

export type RegisterResult = { ok: true; endpoint: RegisteredEndpoint } | { ok: false; message: string };

export interface BackendCoordinatorApi {
  report(report: HealthReport): Promise<HealthSnapshot>;
  snapshot(): Promise<HealthSnapshot>;
  /** The change methods take the verified caller's id (`actor`): the change and its audit record are written together. */
  register(backend: string, registration: Registration, actor?: string): Promise<RegisterResult>;
  heartbeat(backend: string, url: string): Promise<boolean>;
  drain(backend: string, url: string, actor?: string): Promise<boolean>;
  deregister(backend: string, url: string, actor?: string): Promise<boolean>;
  endpoints(): Promise<(RegisteredEndpoint & { expiresAt: number })[]>;
}

/** The coordinator of one backend, named by it. */
export const coordinatorOf = (namespace: Namespace, backend: string): BackendCoordinatorApi =>
  namespace.get(namespace.idFromName(backend)) as unknown as BackendCoordinatorApi;

// --- RateLimiter ------------------------------------------------------------------------------

export interface LeaseRequest {
  key: string;
  /** Fixed window index: floor(epoch ms / windowMs), computed by the isolate. */
  window: number;
  windowMs: number;
  limit: number;
  want: number;
}

export interface Lease {
  granted: number;
  /** Tokens left for everyone in this window after this grant. */
  remaining: number;
  resetAt: number;
}

export interface RateLimiterStats {
  calls: number;
  granted: number;
  /** Keys with a count in a window that is not over. */
  keys: number;
}

export interface RateLimiterApi {
  lease(request: LeaseRequest): Promise<Lease>;
  stats(): Promise<RateLimiterStats>;
}

/** One shard of a global rate-limit rule. */
export const rateLimiterOf = (namespace: Namespace, name: string): RateLimiterApi =>
  namespace.get(namespace.idFromName(name)) as unknown as RateLimiterApi;

// --- Issuer -----------------------------------------------------------------------------------

export interface IssueRequest {
  /** The SPIFFE ID the token names (`sub`), in the mesh's trust domain. */
  subject: string;
  /** The one audience (`aud`). */
  audience: string;
  /** At most MESH_TOKEN_LIFETIME_MS, which is also the default. */
  lifetimeMs?: number;
}

export type IssueResult =
  /** sequence: the spiffe_sequence of the first bundle that publishes the signing key (or a later one). */
  | { ok: true; token: string; expiresAt: number; kid: string; sequence?: number }
  | { ok: false; status: 400; reason: "invalid_request"; message: string };

export interface SigningKeyInfo {
  kid: string;
  alg: SigningAlgorithm;
  /** published: in the bundle, signing from activatesAt; signing: the one key that signs now; retired: published until publishedUntil. */
  state: "published" | "signing" | "retired";
  pinned: boolean;
  createdAt: number;
  activatesAt: number;
  retiredAt: number | null;
  publishedUntil: number | null;
}

export type RevokeResult =
  | { ok: true; keys: SigningKeyInfo[] }
  | { ok: false; status: 404 | 409; reason: "not_found" | "key_pinned"; message: string };

export interface ExchangeRequest {
  /** The workload's SPIFFE ID. */
  subject: string;
  /** Its bootstrap credential (common/identity/credentials.ts). */
  credential: string;
}

export type ExchangeResult =
  | { ok: true; token: string; expiresAt: number }
  | { ok: false; status: 401; reason: "invalid_credential"; message: string };

/** A bootstrap credential as listed: never the secret, nor its hash. */
export interface CredentialInfo {
  spiffeId: string;
  /** "stored": made through the admin API (null createdAt never); "secret": in MESH_WORKLOAD_CREDENTIALS. */
  source: "stored" | "secret";
  createdAt: number | null;
}

export type CreateCredentialResult =
  /** `secret`: shown this once; the Issuer keeps only its SHA-256. */
  | { ok: true; spiffeId: string; secret: string; createdAt: number }
  | { ok: false; status: 400 | 409; reason: "invalid_request" | "credential_exists" | "too_many_credentials"; message: string };

export type DeleteCredentialResult =
  | { ok: true }
  | { ok: false; status: 404 | 409; reason: "not_found" | "credential_in_secret"; message: string };

export interface IssuerApi {
  /** The public keys as a SPIFFE bundle (JWK Set); makes the first key on first use. */
  bundle(): Promise<TrustBundle>;
  issue(request: IssueRequest): Promise<IssueResult>;
  /** A workload token for the mesh (aud: the gateway) in exchange for a valid bootstrap credential. */
  exchange(request: ExchangeRequest): Promise<ExchangeResult>;
  keyInfo(): Promise<SigningKeyInfo[]>;
  /** The change methods take the verified caller's id (`actor`): the change and its audit record are written together. */
  rotate(actor?: string): Promise<SigningKeyInfo[]>;
  revoke(kid: string, actor?: string): Promise<RevokeResult>;
  /** A new bootstrap credential for a workload (256 random bits), stored as its SHA-256 only. */
  createCredential(spiffeId: string, actor?: string): Promise<CreateCredentialResult>;
  credentials(): Promise<CredentialInfo[]>;
  /** Revokes a stored credential: the next exchange with it is refused (tokens already issued live out their minutes). */
  deleteCredential(spiffeId: string, actor?: string): Promise<DeleteCredentialResult>;
}

/** The trust domain's one issuer (control plane only: no request waits on it in the steady state). */
export const issuerOf = (namespace: Namespace): IssuerApi => namespace.get(namespace.idFromName("issuer")) as unknown as IssuerApi;
