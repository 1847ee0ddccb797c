/**
 * Policy sets of a growing mesh for `npm run bench:scale`: N HTTPRoutes, each the route of one service
 * with its own Backend (one HTTP endpoint), on one host (H = 1) or each on a host of its own (H = N).
 * Every route has one rule with a PathPrefix `/svc-<i>`; every tenth also has a header-matched canary
 * rule and a retry, every fiftieth an Exact health check. A fixed handful of RegularExpression routes
 * sits on the shared host, as a mesh would have a few: regexes stay a linear scan (see README).
 * None of the endpoints is ever called.
 */
type Doc = Record<string, unknown>;

/** The one host of the H = 1 sets. */
export const SHARED_HOST = "api.scale.mesh";
/** RegularExpression routes on the shared host, whatever N. */
export const REGEX_ROUTES = 5;

export const serviceName = (i: number) => `svc-${i}`;
export const hostOf = (i: number, hosts: "one" | "own") => (hosts === "one" ? SHARED_HOST : `${serviceName(i)}.scale.mesh`);

export function scalePolicies(routes: number, hosts: "one" | "own"): Doc[] {
  const documents: Doc[] = [];
  for (let i = 0; i < routes; i++) {
    const name = serviceName(i);
    documents.push({
      apiVersion: "edgemesh.dev/v1alpha1",
      kind: "Backend",
      metadata: { name },
      spec: { endpoints: [{ url: `http://${name}.internal:8080` }] },
    });
    const rules: Doc[] = [];
    if (i % 10 === 0) {
      rules.push({
        matches: [{ path: { type: "PathPrefix", value: `/${name}` }, headers: [{ name: "x-canary", value: "1" }] }],
        backendRefs: [{ name }],
        retry: { attempts: 2, codes: [503] },
      });
    }
    if (i % 50 === 0) rules.push({ matches: [{ path: { type: "Exact", value: `/${name}/healthz` } }], backendRefs: [{ name }] });
    rules.push({ matches: [{ path: { type: "PathPrefix", value: `/${name}` } }], backendRefs: [{ name }], timeouts: { request: "5s" } });
    documents.push({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name },
      spec: { hostnames: [hostOf(i, hosts)], rules },
    });
  }
  for (let r = 0; r < REGEX_ROUTES; r++) {
    documents.push({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: `regex-${r}` },
      spec: {
        hostnames: [SHARED_HOST],
        rules: [{ matches: [{ path: { type: "RegularExpression", value: `/re-${r}/[0-9]+/items` } }], backendRefs: [{ name: serviceName(0) }] }],
      },
    });
  }
  return documents;
}
