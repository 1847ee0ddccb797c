/**
 * The policy set this deploy ships: the files bundled from policies/, or MESH_POLICIES (JSON documents)
 * when an environment or a test sets it. It is the configuration until the control plane has one, and
 * what seeds the control plane.
 *
 * What was validated before is compiled without validating again (policies/normalized.ts): the bundle
 * (validated by `npm run policies:bundle`) and the KV snapshot (validated by the ConfigStore at apply)
 * carry their documents normalized and stamped with the schemas' fingerprint. MESH_POLICIES, and any
 * set stamped by other schemas than this build's, are validated here.
 */
import type { Bundle, Json, MeshSnapshot, RegisteredEndpoint } from "../../../common/protocol.ts";
import { formatError, type SourceDocument } from "../../../policies/errors.ts";
import { SCHEMA_FINGERPRINT, trustedValues, valuesOf } from "../../../policies/normalized.ts";
import { parsePolicySet } from "../../../policies/policy-set.ts";
import type { GatewayEnv } from "../env.ts";
import type { IsolateState } from "../isolate-state.ts";
import bundled from "../generated/policies.json";
import { compileTable, type RoutingTable } from "../table/index.ts";

export interface Seed extends Bundle {
  table: RoutingTable;
}

type Registry = Readonly<Record<string, readonly RegisteredEndpoint[]>>;

interface BundledPolicies {
  builtAt: number;
  hash: string;
  documents: { source: string; value: unknown }[];
  normalized: { schema: string; documents: unknown[] };
}

/**
 * The deploy's policy set, compiled. An isolate builds it once (TableSource keeps it): its bindings
 * and bundle never change, a new deploy is a new isolate. An invalid MESH_POLICIES is logged and the
 * bundled policies serve instead.
 */
export function buildSeed(env: GatewayEnv, isolate: IsolateState): Promise<Seed> {
  return seedFrom(env.MESH_POLICIES, isolate).catch((error) => {
    if (env.MESH_POLICIES === undefined) throw error;
    console.error(JSON.stringify({ level: "error", message: "MESH_POLICIES rejected; serving the bundled policies", error: String(error) }));
    return seedFrom(undefined, isolate);
  });
}

async function seedFrom(meshPolicies: string | undefined, isolate: IsolateState): Promise<Seed> {
  if (meshPolicies === undefined) {
    const { builtAt, hash, documents, normalized } = bundled as BundledPolicies;
    const sources = documents.map((document) => document.source);
    return {
      hash,
      builtAt,
      documents: documents.map((document) => document.value as Json),
      sources,
      table: compileNormalized(normalized.documents, normalized.schema, sources, 1, {}, isolate),
    };
  }
  const parsed: unknown = JSON.parse(meshPolicies);
  const values = (Array.isArray(parsed) ? parsed : [parsed]) as Json[];
  return {
    hash: await sha256(JSON.stringify(values)),
    builtAt: 0,
    documents: values,
    sources: values.map(() => "MESH_POLICIES"),
    table: compileDocuments(values.map((value, index) => ({ source: "MESH_POLICIES", index, value })), 1, {}, isolate),
  };
}

/** Validates and compiles documents as written (MESH_POLICIES, or a set normalized by other schemas). */
function compileDocuments(documents: SourceDocument[], version: number, registry: Registry, isolate: IsolateState): RoutingTable {
  const result = parsePolicySet(documents);
  if (!result.ok) throw new Error(`invalid policies:\n${result.errors.map(formatError).join("\n")}`);
  return compileTable(valuesOf(result.set), version, registry, isolate);
}

/** Normalized documents: trusted when these schemas made them (`schema`), validated otherwise. */
export function compileNormalized(values: readonly unknown[], schema: string, sources: readonly string[], version: number, registry: Registry, isolate: IsolateState): RoutingTable {
  if (schema === SCHEMA_FINGERPRINT) return compileTable(trustedValues(values), version, registry, isolate);
  return compileDocuments(values.map((value, index) => ({ source: sources[index] ?? "control plane", index, value })), version, registry, isolate);
}

/** The version the ConfigStore published to KV. */
export const compileSnapshot = (snapshot: MeshSnapshot, isolate: IsolateState): RoutingTable =>
  compileNormalized(snapshot.documents, snapshot.schema ?? "", snapshot.sources, snapshot.version, snapshot.registry, isolate);

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
