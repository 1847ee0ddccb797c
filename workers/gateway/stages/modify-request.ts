/** URLRewrite and RequestHeaderModifier of the matched rule, applied to the upstream request. */
import { createMiddleware } from "hono/factory";
import type { MeshEnv } from "../context.ts";
import { modifyPath } from "./rewrite-path.ts";

export const modifyRequest = () =>
  createMiddleware<MeshEnv>(async function modifyRequest(c, next) {
    const { rule, match } = c.get("route");
    const upstream = c.get("upstream");
    if (rule.rewrite?.hostname) upstream.host = rule.rewrite.hostname;
    if (rule.rewrite?.path) upstream.path = modifyPath(upstream.path, rule.rewrite.path, match.prefix);
    rule.requestHeaders?.(upstream.headers);
    await next();
  });
