/**
 * Weighted traffic splitting between the rule's backendRefs (canaries), then the chosen backendRef's
 * own header filters. A rule with no backend to send to answers 500, as the Gateway API requires.
 */
import { createMiddleware } from "hono/factory";
import type { MeshEnv } from "../context.ts";
import { MeshError } from "../errors.ts";
import { weightedRandom } from "../lb/random.ts";

export const splitTraffic = () =>
  createMiddleware<MeshEnv>(async function splitTraffic(c, next) {
    const rule = c.get("route").rule;
    const target = weightedRandom(rule.targets);
    if (!target) {
      const why = rule.hasBackendRefs ? "all of its backendRefs have weight 0" : "it has no backendRefs";
      throw new MeshError("no_backend", `route ${rule.route} rule ${rule.ruleIndex} cannot forward: ${why}`);
    }
    c.set("target", target);
    c.get("outcome").backend = target.backend.name;
    target.requestHeaders?.(c.get("upstream").headers);
    await next();
    target.responseHeaders?.(c.res.headers);
  });
