/**
 * The innermost call: sends the upstream request to the picked endpoint (over HTTP, or over the
 * backend's service binding) and hands back a response the outer stages may edit. Only a failure of
 * fetch() itself is the endpoint's (upstream_reset); one while the gateway builds its copy of the
 * answer is the gateway's own (internal_error), which no health check holds against the endpoint.
 */
import type { RequestBody } from "../context.ts";
import type { GatewayEnv } from "../env.ts";
import { MeshError } from "../errors.ts";
import { stripHeaders } from "../strip-headers.ts";
import type { EndpointRuntime } from "../lb/index.ts";
import type { BackendRuntime } from "../table/index.ts";
import type { Call } from "./call.ts";
import { timeoutError } from "./timeouts.ts";

export const send: Call = async (call) => {
  const { upstream, signal } = call;
  const endpoint = call.endpoint!;
  let response: Response;
  try {
    const fetcher = endpoint.origin ? globalThis : serviceBinding(call.env, call.target.backend);
    const target = endpoint.origin ?? `https://${upstream.host}`;
    response = await fetcher.fetch(target + upstream.path + upstream.search, {
      method: upstream.method,
      headers: upstream.headers,
      body: bodyOf(upstream.body),
      // The client decides whether to follow the backend's redirects, not the mesh.
      redirect: "manual",
      signal,
    });
  } catch (error) {
    if (error instanceof MeshError) throw error;
    if (signal?.aborted) throw timeoutError(call, error);
    throw new MeshError("upstream_reset", `connection to ${endpoint.id} failed: ${(error as Error).message}`, { cause: error });
  }
  return editable(response, endpoint);
};

/**
 * fetch() responses have immutable headers; the response stages need to edit them. (A Response made
 * from a Response copies status and headers natively, cheaper than a Headers copy in JS.) Whatever
 * fails here failed in the gateway, after the endpoint answered.
 */
function editable(response: Response, endpoint: EndpointRuntime): Response {
  try {
    const copy = new Response(response.body, response);
    stripHeaders(copy.headers);
    return copy;
  } catch (cause) {
    response.body?.cancel().catch(() => undefined);
    console.error(JSON.stringify({ level: "error", message: "could not handle an upstream answer", endpoint: endpoint.id, status: response.status, error: String((cause as Error)?.stack ?? cause) }));
    throw new MeshError("internal_error", `the gateway could not handle the answer of ${endpoint.id} (status ${response.status}): ${(cause as Error).message}`, { cause });
  }
}

/** The binding a Worker backend names; bindings are looked up by the name the policy gives. */
function serviceBinding(env: GatewayEnv, backend: BackendRuntime): Fetcher {
  const binding: unknown = Reflect.get(env, backend.service!);
  if (!isFetcher(binding)) {
    throw new MeshError("no_healthy_upstream", `service binding ${backend.service} of backend ${backend.name} is not bound`);
  }
  return binding;
}

const isFetcher = (value: unknown): value is Fetcher => typeof (value as Fetcher | undefined)?.fetch === "function";

function bodyOf(body: RequestBody): BodyInit | null {
  if (body.kind === "buffered") return body.bytes;
  if (body.kind === "stream") return body.stream;
  return null;
}
