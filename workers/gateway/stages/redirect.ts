/** RequestRedirect: answers with a redirect built from the request and the filter, without calling a backend. */
import { createMiddleware } from "hono/factory";
import type { MeshEnv } from "../context.ts";
import { modifyPath } from "./rewrite-path.ts";

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

export const redirect = () =>
  createMiddleware<MeshEnv>(async function redirect(c, next) {
    const { rule, match } = c.get("route");
    const filter = rule.redirect;
    if (!filter) return next();
    const upstream = c.get("upstream");
    const url = c.get("url");
    const scheme = filter.scheme ?? url.protocol.slice(0, -1);
    const hostname = filter.hostname ?? url.hostname;
    // The Gateway API: a changed scheme without a port drops the port (the scheme's default applies).
    const port = filter.port ?? (filter.scheme ? undefined : url.port ? Number(url.port) : undefined);
    const authority = port === undefined || DEFAULT_PORTS[scheme] === port ? hostname : `${hostname}:${port}`;
    const path = filter.path ? modifyPath(upstream.path, filter.path, match.prefix) : upstream.path;
    return c.body(null, filter.statusCode, { location: `${scheme}://${authority}${path}${upstream.search}` });
  });
