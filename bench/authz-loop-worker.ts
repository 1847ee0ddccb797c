/**
 * bench/authz-loop.ts's Worker: the benchmark's AuthorizationPolicies (bench/secure.ts) compiled as the
 * gateway compiles them and evaluated k times per request on one call (a real workerd Headers), or one
 * part of that (?op=attrs: the call's attributes only; get: one headers.get; upper: the method's
 * toUpperCase): what evaluation costs when it is hot, against what it costs inside the gateway.
 */
import { compilePolicy, compileAuthorizer, authorize } from "../workers/gateway/authz/evaluate.ts";
import { authzRequestOf } from "../workers/gateway/authz/request.ts";
import { AUTHORIZATION_POLICIES } from "./secure.ts";
import { AuthorizationPolicy } from "../policies/schema/index.ts";

const policies = AUTHORIZATION_POLICIES.map((document) => {
  const d = document as AuthorizationPolicy;
  return compilePolicy(AuthorizationPolicy.parse({ ...d, metadata: { ...d.metadata, namespace: "default" } }));
});
const authorizer = compileAuthorizer(policies)!;
const principal = "spiffe://edgemesh.local/ns/default/sa/bench-client";
const source = Object.freeze({ id: principal, via: "token" as const });
// Kept, so that no evaluation is optimized away.
let sink = 0;

export default {
  async fetch(request: Request): Promise<Response> {
    const params = new URL(request.url).searchParams;
    const k = Number(params.get("k"));
    const op = params.get("op");
    const headers = new Headers({ host: "api.bench.mesh", "user-agent": "wrk", "x-request-id": "abc", traceparent: "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01" });
    const upstream = { method: "GET", host: "api.bench.mesh", path: "/api/v1/orders/123", search: "", headers, body: { kind: "none" as const } };
    // The parts of an Exchange that authzRequestOf reads.
    const x = { outcome: { source }, endUser: undefined, headers, upstream } as unknown as Parameters<typeof authzRequestOf>[0];
    for (let i = 0; i < k; i++) {
      if (op === "attrs") sink += authzRequestOf(x).method.length;
      else if (op === "eval") sink += authorize(authorizer, authzRequestOf(x)).decision.length;
      else if (op === "get") sink += headers.get("x-debug") === null ? 1 : 0;
      else if (op === "upper") sink += upstream.method.toUpperCase().length;
    }
    return new Response(String(sink));
  },
};
