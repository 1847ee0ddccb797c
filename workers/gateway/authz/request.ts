/**
 * What an AuthorizationPolicy sees of a call: the caller (its mesh principal and namespace, the end
 * user's token), the client address, and the request as the upstream will get it (method, host, the
 * normalized and rewritten path, headers). Values may be absent (an anonymous caller, no end-user
 * token): a positive match then fails and a `not*` match holds, as in Istio.
 */
import { parseSpiffeId } from "../../../common/identity/spiffe-id.ts";
import type { EndUser, Exchange, UpstreamRequest } from "../context.ts";
import { LruMap } from "../../../common/lru.ts";
import { hostnameOf } from "../table/index.ts";

/** Callers are few and come back: their namespaces, parsed once (an isolate's verified SPIFFE IDs). */
const namespaces = new LruMap<string, string | null>(1_000);
function namespaceOf(principal: string): string | undefined {
  let namespace = namespaces.get(principal);
  if (namespace === undefined) namespaces.set(principal, (namespace = parseSpiffeId(principal)?.namespace ?? null));
  return namespace ?? undefined;
}

export interface AuthzRequest {
  /** The caller's SPIFFE ID (stages/authenticate.ts), undefined when anonymous. */
  readonly principal: string | undefined;
  /** The namespace of the caller's SPIFFE ID. */
  readonly namespace: string | undefined;
  /** The end user's verified token (RequestAuthentication), if any. */
  readonly endUser: EndUser | undefined;
  /** The client's address (CF-Connecting-IP, as rate limits read it). */
  readonly ip: string | undefined;
  /** Upper case. */
  readonly method: string;
  /** Lower case, without port or trailing dot. */
  readonly hostname: string;
  /** Lower case, as sent (with a port if the Host had one). */
  readonly host: string;
  /** The path the upstream will see: normalized, rewritten, without the query. */
  readonly path: string;
  readonly headers: Headers;
}

/** The call as policies see it: the caller as authenticated, the request as `upstream` will send it. */
export function authzRequestOf(x: Exchange, upstream: UpstreamRequest = x.upstream): AuthzRequest {
  const source = x.outcome.source;
  const principal = source && "id" in source ? source.id : undefined;
  return {
    principal,
    namespace: principal === undefined ? undefined : namespaceOf(principal),
    endUser: x.endUser,
    // The client address as rate limits read it (ratelimit/selectors.ts).
    ip: x.headers.get("cf-connecting-ip") ?? undefined,
    method: upstream.method.toUpperCase(),
    hostname: hostnameOf(upstream.host),
    host: upstream.host.toLowerCase(),
    path: upstream.path,
    headers: upstream.headers,
  };
}
