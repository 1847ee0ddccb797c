/** Finds the rule for the request: the virtual host by Host, then its path index (table/path-index.ts). */
import { createMiddleware } from "hono/factory";
import type { MeshEnv } from "../context.ts";
import { MeshError } from "../errors.ts";
import type { TableSource } from "../control-plane/table-source.ts";
import { hostnameOf, type RequestView } from "../table/index.ts";

export const matchRoute = (tables: TableSource) =>
  createMiddleware<MeshEnv>(async function matchRoute(c, next) {
    const current = tables.current(c.env, c.executionCtx);
    const table = current instanceof Promise ? await current : current;
    const upstream = c.get("upstream");
    let query: URLSearchParams | undefined;
    const view: RequestView = {
      method: upstream.method,
      path: upstream.path,
      headers: c.req.raw.headers,
      get query() {
        return (query ??= new URLSearchParams(upstream.search));
      },
    };
    const entry = table.hosts.match(hostnameOf(upstream.host), view);
    if (!entry) throw new MeshError("no_route", `no route matches ${upstream.method} ${upstream.host}${upstream.path}`);
    c.set("table", table);
    c.set("route", entry);
    c.get("outcome").route = entry.rule.route;
    c.get("outcome").rule = entry.rule.ruleIndex;
    await next();
  });
