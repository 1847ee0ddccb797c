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

/**
 * The call as policies see it: the caller as authenticated, the request as `upstream` will send it.
 * What few policies read (the client address, the host) is read only when a rule asks.
 */
export function authzRequestOf(x: Exchange, upstream: UpstreamRequest = x.upstream): AuthzRequest {
  return new CallAttributes(x, upstream);
}

class CallAttributes implements AuthzRequest {
  readonly principal: string | undefined;
  readonly namespace: string | undefined;
  readonly endUser: EndUser | undefined;
  readonly method: string;
  readonly path: string;
  readonly headers: Headers;

  constructor(
    private readonly x: Exchange,
    private readonly upstream: UpstreamRequest,
  ) {
    const source = x.outcome.source;
    this.principal = source && "id" in source ? source.id : undefined;
    this.namespace = this.principal === undefined ? undefined : namespaceOf(this.principal);
    this.endUser = x.endUser;
    this.method = upstream.method.toUpperCase();
    this.path = upstream.path;
    this.headers = upstream.headers;
  }

  private clientIp: string | null | undefined;

  /** The client address as rate limits read it (ratelimit/selectors.ts); read once, when a rule first asks. */
  get ip(): string | undefined {
    if (this.clientIp === undefined) this.clientIp = this.x.headers.get("cf-connecting-ip");
    return this.clientIp ?? undefined;
  }

  get hostname(): string {
    return hostnameOf(this.upstream.host);
  }

  get host(): string {
    return this.upstream.host.toLowerCase();
  }
}
