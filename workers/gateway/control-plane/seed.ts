/**
 * The policy set this deploy ships: the files bundled from policies/, or MESH_POLICIES (JSON documents)
 * when an environment or a test sets it. It is the configuration until the control plane has one, and
 * what seeds the control plane.
 */
import { formatError, type SourceDocument } from "../../../policies/errors.ts";
import { parsePolicySet } from "../../../policies/policy-set.ts";
import type { GatewayEnv } from "../context.ts";
import bundled from "../generated/policies.json";
import { compileTable, type RoutingTable } from "../table/index.ts";
import type { Bundle, Json, RegisteredEndpoint } from "../../../common/protocol.ts";
import type { IsolateState } from "../isolate-state.ts";

export interface Seed extends Bundle {
  table: RoutingTable;
}

/**
 * The deploy's policy set, compiled. An isolate builds it once (TableSource keeps it): its bindings
 * and bundle never change, a new deploy is a new isolate. An invalid MESH_POLICIES is logged and the
 * bundled policies serve instead.
 */
export function buildSeed(env: GatewayEnv, isolate: IsolateState): Promise<Seed> {
  return seedFrom(env.MESH_POLICIES ?? bundled, isolate).catch((error) => {
    if (env.MESH_POLICIES === undefined) throw error;
    console.error(JSON.stringify({ level: "error", message: "MESH_POLICIES rejected; serving the bundled policies", error: String(error) }));
    return seedFrom(bundled, isolate);
  });
}

async function seedFrom(source: unknown, isolate: IsolateState): Promise<Seed> {
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
    table: compileDocuments(documents.map(({ source, value }, index) => ({ source, index, value })), 1, {}, isolate),
  };
}

/** Compiles documents that were validated before (bundled, or applied through the control plane). */
export function compileDocuments(
  documents: SourceDocument[],
  version: number,
  registry: Readonly<Record<string, readonly RegisteredEndpoint[]>>,
  isolate: IsolateState,
): RoutingTable {
  const result = parsePolicySet(documents);
  if (!result.ok) throw new Error(`invalid policies:\n${result.errors.map(formatError).join("\n")}`);
  return compileTable(result.set, version, registry, isolate);
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
