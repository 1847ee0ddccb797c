/**
 * Compiles an HTTPRouteMatch into a predicate and a precedence key. Precedence is the Gateway API's:
 * Exact path, then the longest prefix, then method, then most header matches, then most query matches;
 * RegularExpression paths (implementation-specific there) sit between Exact and PathPrefix, longest
 * first, as Contour orders them, so a regex is not shadowed by a "/" prefix.
 */
import type { HTTPRouteMatch } from "../../../policies/schema/index.ts";

export interface RequestView {
  method: string;
  /** Normalized path, exactly as it will be sent upstream. */
  path: string;
  headers: Headers;
  query: URLSearchParams;
}

export type PathType = "Exact" | "PathPrefix" | "RegularExpression";

export interface CompiledMatch {
  test(request: RequestView): boolean;
  /** Everything but the path (method, headers, query), for candidates the path index already matched. */
  testRest(request: RequestView): boolean;
  /** False when the match has no method, header or query condition: a path match is enough. */
  readonly conditional: boolean;
  readonly pathType: PathType;
  /** The path as written (Exact and RegularExpression), or the prefix without trailing slashes (PathPrefix, "" for "/"). */
  readonly pathKey: string;
  /** For ReplacePrefixMatch: the prefix this match matched ("/" when it matches everything). */
  prefix: string | undefined;
  /** Sort key: smaller sorts first. */
  precedence: readonly number[];
}

const PATH_KIND_ORDER = { Exact: 0, RegularExpression: 1, PathPrefix: 2 } as const;

type ValueTest = (value: string | null) => boolean;

const valueTest = (type: "Exact" | "RegularExpression", expected: string): ValueTest => {
  if (type === "Exact") return (value) => value === expected;
  const pattern = new RegExp(`^(?:${expected})$`);
  return (value) => value !== null && pattern.test(value);
};

function pathTest(type: "Exact" | "PathPrefix" | "RegularExpression", value: string): (path: string) => boolean {
  if (type === "Exact") return (path) => path === value;
  if (type === "RegularExpression") {
    const pattern = new RegExp(`^(?:${value})$`);
    return (path) => pattern.test(path);
  }
  // Element-wise prefix: "/abc" matches "/abc", "/abc/" and "/abc/def", never "/abcd".
  const prefix = value.replace(/\/+$/, "");
  if (prefix === "") return () => true;
  const withSlash = `${prefix}/`;
  return (path) => path === prefix || path.startsWith(withSlash);
}

const always = () => true;

export function compileMatch(match: HTTPRouteMatch): CompiledMatch {
  const pathType = match.path?.type ?? "PathPrefix";
  const pathValue = match.path?.value ?? "/";
  const testPath = pathTest(pathType, pathValue);
  const method = match.method;
  const headers = (match.headers ?? []).map((h) => ({ name: h.name.toLowerCase(), test: valueTest(h.type, h.value) }));
  const query = (match.queryParams ?? []).map((q) => ({ name: q.name, test: valueTest(q.type, q.value) }));
  const conditional = method !== undefined || headers.length > 0 || query.length > 0;
  const testRest = conditional
    ? (request: RequestView) => {
        if (method !== undefined && request.method !== method) return false;
        for (const header of headers) if (!header.test(request.headers.get(header.name))) return false;
        for (const param of query) if (!param.test(request.query.get(param.name))) return false;
        return true;
      }
    : always;
  const prefix = pathType === "PathPrefix" ? pathValue.replace(/\/+$/, "") : undefined;

  return {
    test: (request) => testPath(request.path) && testRest(request),
    testRest,
    conditional,
    pathType,
    pathKey: prefix ?? pathValue,
    prefix: prefix === undefined ? undefined : prefix || "/",
    precedence: [
      PATH_KIND_ORDER[pathType],
      -pathValue.length,
      method === undefined ? 1 : 0,
      -headers.length,
      -query.length,
    ],
  };
}

export function comparePrecedence(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
