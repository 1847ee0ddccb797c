/**
 * AuthorizationPolicy at the gateway: after the backend is chosen (policies may target it, or the
 * route) and before rate limits (a denied request spends no one's limit), on the request as the
 * upstream will see it: the path normalized and rewritten, the host it gets, the method, its headers.
 * A denial is 403 `denied` naming the policy; the request never reaches the upstream. The decision,
 * dry-run "would deny"s and matching AUDIT policies go into the outcome (sinks/authz-audit.ts audits
 * the denials). A call no policy applies to costs one field read.
 */
import { parseSpiffeId } from "../../../common/identity/spiffe-id.ts";
import { authorize as evaluate, denialMessage } from "../authz/evaluate.ts";
import type { AuthzRequest } from "../authz/request.ts";
import type { Exchange, Stage } from "../context.ts";
import { MeshError } from "../errors.ts";
import { hostnameOf } from "../table/index.ts";

export const authorize: Stage = {
  request(x) {
    const authorizer = x.target.authorization;
    if (!authorizer) return undefined;
    const decision = evaluate(authorizer, requestOf(x));
    x.outcome.authz = decision;
    if (decision.decision === "deny" && !decision.dryRun) throw new MeshError("denied", denialMessage(decision));
    return undefined;
  },
};

function requestOf(x: Exchange): AuthzRequest {
  const { upstream, outcome } = x;
  const source = outcome.source;
  const principal = source && "id" in source ? source.id : undefined;
  return {
    principal,
    namespace: principal === undefined ? undefined : parseSpiffeId(principal)?.namespace,
    endUser: x.endUser,
    // The client address as rate limits read it (ratelimit/selectors.ts).
    ip: x.headers.get("cf-connecting-ip") ?? undefined,
    method: upstream.method.toUpperCase(),
    hostname: hostnameOf(upstream.host),
    host: upstream.host.toLowerCase(),
    path: upstream.path,
    headers: upstream.headers,
  };
}
