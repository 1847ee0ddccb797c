/**
 * Where the routing table comes from. The policy files bundled at deploy time are the configuration;
 * MESH_POLICIES (JSON documents) replaces them for one environment or one test. Compiled once per
 * isolate and per source; an invalid MESH_POLICIES is logged and the bundled set stays in force.
 */
import { formatError, type SourceDocument } from "../../policies/errors.ts";
import { parsePolicySet } from "../../policies/policy-set.ts";
import type { GatewayEnv } from "./context.ts";
import bundled from "./generated/policies.json";
import { compileTable, type RoutingTable } from "./table/index.ts";

export const BUNDLED_VERSION = 1;

let cached: { source: unknown; table: RoutingTable } | undefined;

export function bundledDocuments(): SourceDocument[] {
  return (bundled as { source: string; value: unknown }[]).map(({ source, value }, index) => ({ source, index, value }));
}

export function compileDocuments(documents: SourceDocument[], version: number): RoutingTable {
  const result = parsePolicySet(documents);
  if (!result.ok) throw new Error(`invalid policies:\n${result.errors.map(formatError).join("\n")}`);
  return compileTable(result.set, version);
}

export function currentTable(env: GatewayEnv): RoutingTable {
  const source = env.MESH_POLICIES ?? bundled;
  if (cached?.source === source) return cached.table;
  let table: RoutingTable;
  try {
    table = source === bundled ? compileDocuments(bundledDocuments(), BUNDLED_VERSION) : compileOverride(source as string);
  } catch (error) {
    console.error(JSON.stringify({ level: "error", message: "MESH_POLICIES rejected; serving the bundled policies", error: String(error) }));
    table = compileDocuments(bundledDocuments(), BUNDLED_VERSION);
  }
  cached = { source, table };
  return table;
}

function compileOverride(json: string): RoutingTable {
  const parsed: unknown = JSON.parse(json);
  const values = Array.isArray(parsed) ? parsed : [parsed];
  return compileDocuments(values.map((value, index) => ({ source: "MESH_POLICIES", index, value })), BUNDLED_VERSION);
}
