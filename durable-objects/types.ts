/** What the control plane hands the data plane, and the results of its RPC methods. */
import type { PolicyError } from "../policies/errors.ts";

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
  /** `published`: the new version reached KV (else the alarm keeps trying; gateways see it then). */
  | { ok: true; dryRun: boolean; fromVersion: number; version: number; changes: ObjectChange[]; published: boolean }
  | { ok: false; status: 400; errors: PolicyError[]; messages: string[] }
  | { ok: false; status: 409; currentVersion: number; message: string }
  | { ok: false; status: 404; message: string };

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  fromVersion: number | null;
  toVersion: number | null;
  detail: Json;
}
