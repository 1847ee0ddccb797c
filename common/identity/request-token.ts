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
const QUERY_NAMES = new Set(["access_token", WORKLOAD_TOKEN_HEADER]);

export type RequestToken = { ok: true; token: string | undefined } | { ok: false; reason: Refusal };

/** The request's one workload token (or none), refusing several and any token in the query. */
export function requestToken(headers: Headers, search: string): RequestToken {
  // The substring test keeps the usual request from parsing its query at all.
  if (search.length > 1 && /token/i.test(search)) {
    for (const name of new URLSearchParams(search).keys()) {
      if (QUERY_NAMES.has(name.toLowerCase())) return { ok: false, reason: "token_in_query" };
    }
  }
  const value = headers.get(WORKLOAD_TOKEN_HEADER);
  if (value === null) return { ok: true, token: undefined };
  // Repeated headers arrive joined with ", "; a JWS never holds a comma.
  if (value.includes(",")) return { ok: false, reason: "multiple_tokens" };
  if (value === "") return { ok: false, reason: "malformed" };
  return { ok: true, token: value };
}
