/**
 * AuthorizationPolicy at the gateway: after the backend is chosen (policies may target it, or the
 * route) and before rate limits (a denied request spends no one's limit), on the request as the
 * upstream will see it: the path normalized and rewritten, the host it gets, the method, its headers.
 * A denial is 403 `denied` naming the policy; the request never reaches the upstream. Denials,
 * dry-run "would deny"s and matching AUDIT policies go into the outcome (sinks/authz-audit.ts audits
 * the denials); a plain allow does not, as Envoy's RBAC logs only shadow and denied decisions (the
 * log, the metrics and the audit have nothing to say of it). A call no policy applies to costs one
 * field read.
 */
import { ALLOWED, authorize as evaluate, denialMessage } from "../authz/evaluate.ts";
import { authzRequestOf } from "../authz/request.ts";
import type { Stage } from "../context.ts";
import { MeshError } from "../errors.ts";

export const authorize: Stage = {
  request(x) {
    const authorizer = x.target.authorization;
    if (!authorizer) return undefined;
    const decision = evaluate(authorizer, authzRequestOf(x));
    if (decision === ALLOWED) return undefined;
    x.outcome.authz = decision;
    if (decision.decision === "deny" && !decision.dryRun) throw new MeshError("denied", denialMessage(decision));
    return undefined;
  },
};
