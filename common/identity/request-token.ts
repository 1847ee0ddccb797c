/**
 * Where a workload token travels: a header of its own, `edgemesh-workload-token`, holding the bare
 * compact JWS. Not `Authorization`: that belongs to the end user's credentials, which pass through
 * the mesh untouched to the service (and to end-user authentication); two credentials in one header
 * would make each hop guess whose it is. Not under `x-edgemesh-`: those are the mesh's own headers,
 * stripped from whatever a client sends. Never in the query string, which logs and caches keep.
 */
import type { Refusal } from "./reasons.ts";

export const WORKLOAD_TOKEN_HEADER = "edgemesh-workload-token";
/**
 * The mesh's token toward an upstream (sub: the caller, aud: that upstream), its own header so that
 * a Worker backend which forwards a request back into the mesh does not present it as its own.
 */
export const CALLER_TOKEN_HEADER = "edgemesh-caller-token";

/** Query parameters that carry tokens: RFC 6750's access_token (where Envoy and Istio look by default), and our header's name. */
const carriesWorkloadToken = queryNameTest(["access_token", WORKLOAD_TOKEN_HEADER]);

/**
 * A test of whether a query string names any of `names`, compared as the query's parser decodes it
 * (percent-escapes undone: `access_t%6Fken` is access_token) and case-insensitively. The raw query is
 * parsed only when it holds one of the names as is or any percent-escape, so a usual query costs one
 * scan; a name written with escapes cannot slip past that filter.
 */
export function queryNameTest(names: readonly string[]): (search: string) => boolean {
  const wanted = new Set(names.map((name) => name.toLowerCase()));
  const filter = new RegExp(`${names.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")}|%`, "i");
  return (search) => {
    if (search.length <= 1 || !filter.test(search)) return false;
    for (const name of new URLSearchParams(search).keys()) if (wanted.has(name.toLowerCase())) return true;
    return false;
  };
}

export type RequestToken = { ok: true; token: string | undefined } | { ok: false; reason: Refusal };

/** The request's one workload token (or none), refusing several and any token in the query. */
export function requestToken(headers: Headers, search: string): RequestToken {
  if (carriesWorkloadToken(search)) return { ok: false, reason: "token_in_query" };
  const value = headers.get(WORKLOAD_TOKEN_HEADER);
  if (value === null) return { ok: true, token: undefined };
  // Repeated headers arrive joined with ", "; a JWS never holds a comma.
  if (value.includes(",")) return { ok: false, reason: "multiple_tokens" };
  if (value === "") return { ok: false, reason: "malformed" };
  return { ok: true, token: value };
}
