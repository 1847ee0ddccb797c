/**
 * RequestMirror: after the response, a copy of the request goes to each mirror backend of the rule
 * through the mirror stack (app.ts: its own timeout, a balancer pick, send), fire and forget
 * (`waitUntil`); its answer is dropped and it counts toward nothing (no outcome, retries, budget or
 * limits). Only requests the mesh forwarded are mirrored (not those it answered itself: errors,
 * limits, redirects). As in Envoy, the copy's host gets a "-shadow" suffix (x-forwarded-host for HTTP
 * origins, the URL's host for Workers). Bodies up to 64 KiB are copied; larger requests are not mirrored.
 * A copy goes only to a mirror backend whose AuthorizationPolicies let the caller call it (a dry-run
 * policy's "would deny" does not hold it back; it is not recorded either: the copy has no outcome).
 */
import type { Call } from "../attempt/call.ts";
import { authorize, type Authorizer } from "../authz/evaluate.ts";
import { authzRequestOf } from "../authz/request.ts";
import type { Exchange, Stage, UpstreamRequest } from "../context.ts";
import type { BackendRuntime, BackendTarget, CallPolicy } from "../table/index.ts";
import { MIRROR_BUFFER_LIMIT } from "./buffer-body.ts";

/** A mirror's whole call, from the balancer pick to the response headers. */
export const MIRROR_TIMEOUT_MS = 10_000;
const MIRROR_POLICY: CallPolicy = { requestTimeoutMs: MIRROR_TIMEOUT_MS, perTryTimeoutMs: undefined, retry: undefined, fault: undefined, rateLimits: [] };

const mirrorTarget = (backend: BackendRuntime): BackendTarget => ({
  backend,
  weight: 1,
  redirect: undefined,
  rewrite: undefined,
  requestHeaders: undefined,
  responseHeaders: undefined,
  policy: MIRROR_POLICY,
  authorization: undefined,
});

export const mirror = (callMirror: Call): Stage => ({
  response(x) {
    if (x.route.rule.mirrors.length) sendMirrors(x, callMirror);
  },
});

function sendMirrors(x: Exchange, callMirror: Call): void {
  // Not mirrored: requests the mesh answered itself (errors, limits, a backendRef's redirect).
  if (x.error !== undefined || x.outcome.attempts === 0) return;
  const upstream = x.upstream;
  // A streamed body has been sent already and cannot be copied.
  if (upstream.body.kind === "stream" || (upstream.body.kind === "buffered" && upstream.body.bytes.byteLength > MIRROR_BUFFER_LIMIT)) return;
  const host = shadowHost(upstream.host);
  for (const target of x.route.rule.mirrors) {
    if (Math.random() >= target.fraction) continue;
    // The mirror backend's own policies: a copy never reaches a backend the caller may not call.
    if (target.authorization && deniedCopy(target.authorization, x, upstream)) continue;
    const headers = new Headers(upstream.headers);
    headers.set("x-forwarded-host", host);
    // A Worker backend sees the Host header as set (its URL's host is the shadow host too).
    if (target.backend.service) headers.set("host", host);
    const sent = callMirror({
      env: x.env,
      request: x.request,
      upstream: { ...upstream, host, headers },
      target: mirrorTarget(target.backend),
      outcome: undefined,
      deadlineAt: Infinity,
      signal: undefined,
      timedOut: undefined,
      endpoint: undefined,
      tried: [],
    })
      .then((response) => response.body?.cancel())
      .catch(() => undefined);
    x.ctx.waitUntil(sent);
  }
}

function deniedCopy(authorizer: Authorizer, x: Exchange, upstream: UpstreamRequest): boolean {
  const decision = authorize(authorizer, authzRequestOf(x, upstream));
  return decision.decision === "deny" && !decision.dryRun;
}

/**
 * Envoy's shadow host: "-shadow" after the name and before any port ("api.test:8443" is
 * "api.test-shadow:8443"; after the port it would be no host at all). An IP literal is no name:
 * it stays as it is.
 */
export function shadowHost(host: string): string {
  const colon = host.lastIndexOf(":");
  const [name, port] = colon > host.lastIndexOf("]") ? [host.slice(0, colon), host.slice(colon)] : [host, ""];
  if (name.startsWith("[") || /^[0-9.]+$/.test(name)) return host;
  return `${name}-shadow${port}`;
}
