/**
 * RequestMirror: after the response, a copy of the request goes to each mirror backend, fire and
 * forget (`waitUntil`); its answer is dropped. Only requests the mesh forwarded are mirrored (not
 * those it answered itself: errors, limits). As in Envoy, the copy's host gets a "-shadow" suffix
 * (x-forwarded-host for HTTP origins, the URL's host for Workers). Bodies up to 64 KiB are copied;
 * larger requests are not mirrored.
 */
import { createMiddleware } from "hono/factory";
import { sendTo } from "../attempt/send.ts";
import type { MeshEnv } from "../context.ts";
import { MIRROR_BUFFER_LIMIT } from "./buffer-body.ts";

const MIRROR_TIMEOUT_MS = 10_000;

export const mirror = () =>
  createMiddleware<MeshEnv>(async function mirror(c, next) {
    await next();
    const { mirrors } = c.get("route").rule;
    // Not mirrored: requests the mesh answered itself (errors, limits, a backendRef's redirect).
    if (!mirrors.length || c.error || c.get("outcome").attempts === 0) return;
    const upstream = c.get("upstream");
    // A streamed body has been sent already and cannot be copied.
    if (upstream.body.kind === "stream" || (upstream.body.kind === "buffered" && upstream.body.bytes.byteLength > MIRROR_BUFFER_LIMIT)) return;
    const host = `${upstream.host}-shadow`;
    for (const target of mirrors) {
      if (Math.random() >= target.fraction) continue;
      const endpoint = target.backend.balance(target.backend.eligible, c.req.raw);
      if (!endpoint) continue;
      const headers = new Headers(upstream.headers);
      headers.set("x-forwarded-host", host);
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), MIRROR_TIMEOUT_MS);
      const sent = sendTo(target.backend, endpoint, { ...upstream, host, headers }, c.env, controller.signal)
        .then((response) => response.body?.cancel())
        .catch(() => undefined)
        .finally(() => clearTimeout(timer));
      c.executionCtx.waitUntil(sent);
    }
  });
