/**
 * Weighted traffic splitting between the rule's backendRefs (canaries), then the chosen backendRef's
 * own filters: a RequestRedirect answers without calling the backend; a URLRewrite and header
 * filters change the request for that backend only. Then the host reaches the backend: a Worker gets
 * it as its Host (URL and header agree); an HTTP origin, whose Host the platform sets from its URL,
 * gets a rewritten hostname in x-forwarded-host. A rule with no backend to send to answers 500, as
 * the Gateway API requires.
 */
import type { Stage, UpstreamRequest } from "../context.ts";
import { MeshError } from "../errors.ts";
import { weightedRandom } from "../lb/random.ts";
import { redirectResponse } from "./redirect.ts";
import { modifyPath } from "./rewrite-path.ts";

export const splitTraffic: Stage = {
  request(x) {
    const { rule, match } = x.route;
    const target = weightedRandom(rule.targets);
    if (!target) {
      const why = rule.hasBackendRefs ? "all of its backendRefs have weight 0" : "it has no backendRefs";
      throw new MeshError("no_backend", `route ${rule.route} rule ${rule.ruleIndex} cannot forward: ${why}`);
    }
    x.target = target;
    // The backendRef's response headers are set on the way out (below), on its redirect too.
    if (target.redirect) return redirectResponse(x.url, x.upstream, target.redirect, match.prefix);
    x.outcome.backend = target.backend.name;
    const ruleLevel = x.upstream;
    // The mirrors (an outer stage) send the request as the rule's filters left it: with mirrors,
    // this backend's changes go to a copy, and the rule-level request is put back afterwards.
    let upstream: UpstreamRequest = ruleLevel;
    if (rule.mirrors.length) {
      x.upstream = upstream = { ...ruleLevel, headers: new Headers(ruleLevel.headers) };
      x.ruleUpstream = ruleLevel;
    }
    const { rewrite } = target;
    if (rewrite?.hostname) upstream.host = rewrite.hostname;
    if (rewrite?.path) upstream.path = modifyPath(upstream.path, rewrite.path, match.prefix);
    target.requestHeaders?.(upstream.headers);
    if (target.backend.service) upstream.headers.set("host", upstream.host);
    else if (rewrite?.hostname || rule.rewrite?.hostname) upstream.headers.set("x-forwarded-host", upstream.host);
    return undefined;
  },
  response(x, response) {
    const ruleLevel = x.ruleUpstream;
    if (ruleLevel) {
      // The body may have been buffered on the copy; the mirrors need it.
      ruleLevel.body = x.upstream.body;
      x.upstream = ruleLevel;
      x.ruleUpstream = undefined;
    }
    x.target.responseHeaders?.(response.headers);
  },
};
