/**
 * RequestMirror: after the response, a copy of the request goes to the mirror backend, fire and
 * forget (`waitUntil`); its answer is dropped. As in Envoy, the copy's host gets a "-shadow" suffix.
 */
import { createMiddleware } from "hono/factory";
import { sendTo } from "../attempt/send.ts";
import type { MeshEnv } from "../context.ts";

const MIRROR_TIMEOUT_MS = 10_000;

export const mirror = () =>
  createMiddleware<MeshEnv>(async function mirror(c, next) {
    await next();
    const target = c.get("route").rule.mirror;
    const upstream = c.get("upstream");
    // A streamed body has been sent already and cannot be copied.
    if (!target || upstream.body.kind === "stream" || Math.random() * 100 >= target.percent) return;
    const endpoint = target.backend.balance(target.backend.eligible, c.req.raw);
    if (!endpoint) return;
    const copy = { ...upstream, host: `${upstream.host}-shadow` };
    const sent = sendTo(target.backend, endpoint, copy, c.env, AbortSignal.timeout(MIRROR_TIMEOUT_MS))
      .then((response) => response.body?.cancel())
      .catch(() => undefined);
    c.executionCtx.waitUntil(sent);
  });
