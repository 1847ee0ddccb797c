/**
 * What no hop passes on, both ways: the hop-by-hop headers (hop-by-hop.ts) with those the Connection
 * header names, and the mesh's own x-edgemesh-* (mesh-headers.ts). One pass over the names finds them
 * and only those present are deleted: measured, a delete per name that might be there (nine
 * hop-by-hop names, then a second pass for the prefix) cost more than the pass itself.
 */
import { connectionNames, HOP_BY_HOP } from "./hop-by-hop.ts";
import { MESH_HEADER_PREFIX } from "./mesh-headers.ts";

/** Removes hop-by-hop and x-edgemesh-* headers, and any name in `also`. */
export function stripHeaders(headers: Headers, also?: ReadonlySet<string>): void {
  let found: string[] | undefined;
  // Names come lowercased; collected first, as deleting while iterating would skip entries.
  for (const name of headers.keys()) {
    if (HOP_BY_HOP.has(name) || name.startsWith(MESH_HEADER_PREFIX) || also?.has(name)) (found ??= []).push(name);
  }
  if (!found) return;
  // Connection is itself hop-by-hop: it is present when it is among the names found.
  const connection = found.includes("connection") ? headers.get("connection") : null;
  if (connection) found.push(...connectionNames(connection));
  for (const name of found) headers.delete(name);
}
