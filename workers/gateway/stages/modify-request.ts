/** URLRewrite and RequestHeaderModifier of the matched rule, applied to the upstream request. */
import type { Stage } from "../context.ts";
import { modifyPath } from "./rewrite-path.ts";

export const modifyRequest: Stage = {
  request(x) {
    const { rule, match } = x.route;
    const upstream = x.upstream;
    if (rule.rewrite?.hostname) upstream.host = rule.rewrite.hostname;
    if (rule.rewrite?.path) upstream.path = modifyPath(upstream.path, rule.rewrite.path, match.prefix);
    rule.requestHeaders?.(upstream.headers);
    return undefined;
  },
};
