/**
 * The policy set this deploy ships: the files bundled from policies/, or MESH_POLICIES (JSON documents)
 * when an environment or a test sets it. It is the configuration until the control plane has one, and
 * what seeds the control plane.
 */
import type { Bundle } from "../../../durable-objects/config-store.ts";
import { formatError, type SourceDocument } from "../../../policies/errors.ts";
import { parsePolicySet } from "../../../policies/policy-set.ts";
import type { GatewayEnv } from "../context.ts";
import bundled from "../generated/policies.json";
import { compileTable, type RoutingTable } from "../table/index.ts";
import type { Json, RegisteredEndpoint } from "../../../durable-objects/types.ts";

export interface Seed extends Bundle {
  table: RoutingTable;
}

let cached: Promise<Seed> | undefined;

/**
 * Built once per isolate: an isolate's bindings and bundle never change (a new deploy is a new
 * isolate). An invalid MESH_POLICIES is logged and the bundled policies serve instead.
 */
export function seedOf(env: GatewayEnv): Promise<Seed> {
  cached ??= buildSeed(env.MESH_POLICIES ?? bundled).catch((error) => {
    if (env.MESH_POLICIES === undefined) throw error;
    console.error(JSON.stringify({ level: "error", message: "MESH_POLICIES rejected; serving the bundled policies", error: String(error) }));
    return buildSeed(bundled);
  });
  // A failure is not kept: the next request tries again.
  cached.catch(() => (cached = undefined));
  return cached;
}

async function buildSeed(source: unknown): Promise<Seed> {
  let documents: { source: string; value: unknown }[];
  let builtAt: number;
  if (typeof source === "string") {
    const parsed: unknown = JSON.parse(source);
    documents = (Array.isArray(parsed) ? parsed : [parsed]).map((value) => ({ source: "MESH_POLICIES", value }));
    builtAt = 0;
  } else {
    ({ documents, builtAt } = source as typeof bundled);
  }
  const values = documents.map((document) => document.value as Json);
  return {
    hash: await sha256(JSON.stringify(values)),
    builtAt,
    documents: values,
    sources: documents.map((document) => document.source),
    table: compileDocuments(documents.map(({ source, value }, index) => ({ source, index, value })), 1),
  };
}

/** Compiles documents that were validated before (bundled, or applied through the control plane). */
export function compileDocuments(
  documents: SourceDocument[],
  version: number,
  registry?: Readonly<Record<string, readonly RegisteredEndpoint[]>>,
): RoutingTable {
  const result = parsePolicySet(documents);
  if (!result.ok) throw new Error(`invalid policies:\n${result.errors.map(formatError).join("\n")}`);
  return compileTable(result.set, version, registry);
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
