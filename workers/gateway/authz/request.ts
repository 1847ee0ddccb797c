/**
 * What an AuthorizationPolicy sees of a call: the caller (its mesh principal and namespace, the end
 * user's token), the client address, and the request as the upstream will get it (method, host, the
 * normalized and rewritten path, headers). Values may be absent (an anonymous caller, no end-user
 * token): a positive match then fails and a `not*` match holds, as in Istio.
 */
import type { EndUser } from "../context.ts";

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
