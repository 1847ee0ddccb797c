/** ResponseHeaderModifier of the matched rule, applied to whatever response comes back, synthetic ones included. */
import { createMiddleware } from "hono/factory";
import type { MeshEnv } from "../context.ts";

export const modifyResponse = () =>
  createMiddleware<MeshEnv>(async function modifyResponse(c, next) {
    await next();
    c.get("route").rule.responseHeaders?.(c.res.headers);
  });
