/**
 * Who is calling, as the destination's peerAuthentication mode asks (Istio's PeerAuthentication): a
 * Worker by the `props` of its service binding to the gateway (set by whoever deploys the binding,
 * not by the caller's code), an HTTP origin by a workload token in `edgemesh-workload-token`
 * (verified, cached until it expires). STRICT requires one of them, PERMISSIVE checks a token when
 * one is sent, DISABLE checks nothing. A rule that splits over several backends takes the strictest
 * mode among them (resolved with the table: table/peer-authentication.ts). Refusals are
 * 401 `unauthenticated`, the refusal code in the message and in WWW-Authenticate. The token is this
 * hop's credential and is never forwarded upstream, whatever the mode; nor is a client's copy of
 * the mesh's own caller token (both left out by prepare-upstream.ts).
 */
import { REFUSALS, type Refusal } from "../../../common/identity/reasons.ts";
import { requestToken, WORKLOAD_TOKEN_HEADER } from "../../../common/identity/request-token.ts";
import type { Verification } from "../../../common/identity/verify.ts";
import type { Stage } from "../context.ts";
import { MeshError } from "../errors.ts";
import type { MeshIdentity } from "../identity/mesh-identity.ts";
import type { Outcome } from "../outcome.ts";

/** Records the refusal in the outcome and makes its 401. */
function refuse(outcome: Outcome, reason: Refusal, message: string = REFUSALS[reason]): MeshError {
  outcome.source = { refused: reason };
  return new MeshError("unauthenticated", `${reason}: ${message}`, { headers: { "www-authenticate": `Edgemesh-Workload-Token error="${reason}"` } });
}

function accept(outcome: Outcome, result: Verification): undefined {
  if (!result.ok) throw refuse(outcome, result.reason, result.message);
  outcome.source = { id: result.token.subject.id, via: "token" };
  return undefined;
}

export const authenticate = (identity: MeshIdentity): Stage => ({
  request(x) {
    const { outcome } = x;
    // Client-sent identity headers were left out of the upstream request already (prepare-upstream.ts).
    const mode = x.route.rule.peerAuthentication;
    const binding = identity.bindingIdentity(x.env, (x.ctx as ExecutionContext & { props?: unknown }).props);
    if (binding === "invalid") throw refuse(outcome, "invalid_binding_identity");
    if (mode === "DISABLE") {
      if (binding) outcome.source = { id: binding, via: "binding" };
      return undefined;
    }
    const sent = requestToken(x.request.headers, x.url.search);
    if (!sent.ok) throw refuse(outcome, sent.reason);
    if (binding) {
      if (sent.token !== undefined) throw refuse(outcome, "multiple_identities");
      outcome.source = { id: binding, via: "binding" };
      return undefined;
    }
    if (sent.token === undefined) {
      if (mode === "STRICT") throw refuse(outcome, "missing_token", `${REFUSALS.missing_token}: this backend requires a mesh identity (send a workload token in ${WORKLOAD_TOKEN_HEADER})`);
      return undefined;
    }
    const verifier = identity.verifierFor(x.env);
    // The steady state is a cache hit: no promise to wait for.
    const cached = verifier.cached(sent.token);
    return cached ? accept(outcome, cached) : verifier.verify(sent.token).then((result) => accept(outcome, result));
  },
});
