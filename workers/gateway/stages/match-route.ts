/** Finds the rule for the request: the virtual host by Host, then its path index (table/path-index.ts). */
import type { Exchange, Stage } from "../context.ts";
import type { TableSource } from "../control-plane/table-source.ts";
import { MeshError } from "../errors.ts";
import { hostnameOf, type RequestView, type RoutingTable } from "../table/index.ts";

export const matchRoute = (tables: TableSource): Stage => ({
  request(x) {
    const current = tables.current(x.env, x.ctx);
    // Synchronous while the table is fresh: only a cold isolate, or one past the staleness bound, waits.
    return current instanceof Promise ? current.then((table) => match(x, table)) : match(x, current);
  },
});

function match(x: Exchange, table: RoutingTable): undefined {
  const upstream = x.upstream;
  const entry = table.hosts.match(hostnameOf(upstream.host), new View(upstream, x.headers));
  if (!entry) throw new MeshError("no_route", `no route matches ${upstream.method} ${upstream.host}${upstream.path}`);
  x.table = table;
  x.route = entry;
  x.outcome.route = entry.rule.route;
  x.outcome.rule = entry.rule.ruleIndex;
  return undefined;
}

/** The request as matches see it; the query is parsed only if a match asks for it. */
class View implements RequestView {
  readonly method: string;
  readonly path: string;
  private parsed: URLSearchParams | undefined;

  constructor(
    private readonly upstream: { method: string; path: string; search: string },
    readonly headers: Headers,
  ) {
    this.method = upstream.method;
    this.path = upstream.path;
  }

  get query(): URLSearchParams {
    return (this.parsed ??= new URLSearchParams(this.upstream.search));
  }
}
