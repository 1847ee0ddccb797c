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
import type { IpAddress } from "../../../policies/ip-address.ts";
import { clientAddress } from "../ratelimit/cidr.ts";
import { claimValues, pathReadings, splitHeader, TOO_MANY, type PathReadings } from "./readings.ts";

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
  /** `ip` parsed, an IPv4-mapped IPv6 address as its IPv4 one (ratelimit/cidr.ts); undefined when absent or no address. */
  readonly address: IpAddress | undefined;
  /** Upper case. */
  readonly method: string;
  /** Lower case, without port or trailing dot (routing's hostnameOf). */
  readonly hostname: string;
  /** `hostname:port`, the scheme's default port when the Host has none: what a host pattern with a port matches. */
  readonly hostPort: string;
  /** The path the upstream will see: normalized, rewritten, without the query. */
  readonly path: string;
  /** The path's readings (readings.ts). */
  readonly pathReadings: PathReadings;
  readonly headers: Headers;
  /** A header's values (readings.ts splitHeader; TOO_MANY past the cap); `name` in lower case. */
  headerValues(name: string): readonly string[];
  /** A claim's values (readings.ts claimValues); `key` names `path` (the condition's key). */
  claimValues(key: string, path: readonly string[]): readonly string[] | undefined;
}

/**
 * The call as policies see it: the caller as authenticated, the request as `upstream` will send it.
 * What few policies read (the client address, the host, the path's readings, a header's values) is
 * read when a rule first asks, and kept for the next rule: at most once per request.
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
  private readings: PathReadings | undefined;
  // Most policies read one header: it is kept in fields; what fewer read (more headers, the host, the
  // parsed address, claims) in `rarer`, so that a request pays for none of it until a rule asks.
  private headerName: string | undefined;
  private headerRead: readonly string[] = TOO_MANY;
  private rarer: Rarer | undefined;

  /** The client address as rate limits read it (ratelimit/selectors.ts). */
  get ip(): string | undefined {
    if (this.clientIp === undefined) this.clientIp = this.x.headers.get("cf-connecting-ip");
    return this.clientIp ?? undefined;
  }

  get address(): IpAddress | undefined {
    const rarer = (this.rarer ??= new Rarer());
    if (rarer.address === undefined) rarer.address = (this.ip === undefined ? undefined : clientAddress(this.ip)) ?? null;
    return rarer.address ?? undefined;
  }

  get hostname(): string {
    return ((this.rarer ??= new Rarer()).hostname ??= hostnameOf(this.upstream.host));
  }

  get hostPort(): string {
    const rarer = (this.rarer ??= new Rarer());
    return (rarer.hostPort ??= `${this.hostname}:${portOf(this.upstream.host) ?? (this.x.url.protocol === "http:" ? "80" : "443")}`);
  }

  get pathReadings(): PathReadings {
    return (this.readings ??= pathReadings(this.path));
  }

  headerValues(name: string): readonly string[] {
    if (name === this.headerName) return this.headerRead;
    const headers = this.headerName === undefined ? undefined : (this.rarer ??= new Rarer()).headers;
    let values = headers?.get(name);
    if (values) return values;
    values = splitHeader(this.headers.get(name));
    if (headers) headers.set(name, values);
    else {
      this.headerName = name;
      this.headerRead = values;
    }
    return values;
  }

  claimValues(key: string, path: readonly string[]): readonly string[] | undefined {
    const { claims } = (this.rarer ??= new Rarer());
    if (claims.has(key)) return claims.get(key);
    const values = claimValues(this.endUser?.claims, path);
    claims.set(key, values);
    return values;
  }
}

class Rarer {
  address: IpAddress | null | undefined;
  hostname: string | undefined;
  hostPort: string | undefined;
  readonly headers = new Map<string, readonly string[]>();
  readonly claims = new Map<string, readonly string[] | undefined>();
}

/** The Host's port, if it has one (after "]" for an IPv6 literal). */
function portOf(host: string): string | undefined {
  const colon = host.lastIndexOf(":");
  return colon > host.lastIndexOf("]") && colon < host.length - 1 ? host.slice(colon + 1) : undefined;
}
