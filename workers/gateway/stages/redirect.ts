/**
 * RequestRedirect: answers with a redirect built from the request and the filter, without calling a
 * backend. A rule's redirect answers here; a backendRef's, once splitTraffic has chosen it.
 */
import type { Stage, UpstreamRequest } from "../context.ts";
import type { Redirect } from "../table/rule.ts";
import { modifyPath } from "./rewrite-path.ts";

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

export const redirect: Stage = {
  request(x) {
    const { rule, match } = x.route;
    return rule.redirect ? redirectResponse(x.url, x.upstream, rule.redirect, match.prefix) : undefined;
  },
};

/** The redirect for a request: `url` is the client's, `upstream` carries the normalized path and query. */
export function redirectResponse(url: URL, upstream: UpstreamRequest, filter: Redirect, matchedPrefix: string | undefined): Response {
  const scheme = filter.scheme ?? url.protocol.slice(0, -1);
  const hostname = filter.hostname ?? url.hostname;
  // The Gateway API: a changed scheme without a port drops the port (the scheme's default applies).
  const port = filter.port ?? (filter.scheme ? undefined : url.port ? Number(url.port) : undefined);
  const authority = port === undefined || DEFAULT_PORTS[scheme] === port ? hostname : `${hostname}:${port}`;
  const path = filter.path ? modifyPath(upstream.path, filter.path, matchedPrefix) : upstream.path;
  return new Response(null, { status: filter.statusCode, headers: { location: `${scheme}://${authority}${path}${upstream.search}` } });
}
