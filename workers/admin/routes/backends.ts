/** Backends: endpoints as this isolate sees them, health as the coordinator decided it, and the run-time registry. */
import { createRoute, z } from "@hono/zod-openapi";
import { checkEndpointUrl, plaintextRefusal, registrationRefusal, type RegistrationSpec } from "../../../policies/endpoint-url.ts";
import type { BackendRuntime } from "../../gateway/table/index.ts";
import { configStore, coordinator, problem, type AdminApp, type AdminDeps, type AdminEnv } from "../context.ts";
import { BackendName, BackendView, EndpointUrl, ErrorBody, json, NamespacedBackendName, RegisteredEndpoint, Registration } from "../schemas.ts";

const body = <T extends z.ZodType>(schema: T) => ({ body: { content: { "application/json": { schema } }, required: true } });
const notFound = json(ErrorBody, "no such backend, or no such endpoint");
const Ok = z.object({ ok: z.literal(true) });

/** The Backend a path names, as the table names it ("details"; "shop/details" outside the default namespace). */
const backendName = ({ namespace, name }: { namespace?: string; name: string }) => (namespace && namespace !== "default" ? `${namespace}/${name}` : name);

function view(backend: BackendRuntime) {
  const eligible = new Set(backend.eligible);
  return {
    name: backend.name,
    kind: backend.service ? ("worker" as const) : ("http" as const),
    endpoints: backend.endpoints.map((e) => ({ id: e.id, weight: e.weight, eligible: eligible.has(e), inFlight: e.inFlight })),
  };
}

export function backendRoutes(app: AdminApp, { tables, isolate }: AdminDeps): void {
  const findBackend = async (c: { env: AdminEnv; executionCtx: { waitUntil(promise: Promise<unknown>): void } }, name: string) => {
    const table = await tables.current(c.env, c.executionCtx);
    return [...table.backends.values()].find((backend) => backend.name === name);
  };

  app.openapi(
    createRoute({ method: "get", path: "/backends", tags: ["backends"], summary: "Every backend, as this isolate routes to it", responses: { 200: json(z.object({ backends: z.array(BackendView) }), "backends") } }),
    async (c) => {
      const table = await tables.current(c.env, c.executionCtx);
      return c.json({ backends: [...table.backends.values()].map(view) }, 200);
    },
  );

  // "details" or, outside the default namespace, "shop/details": a name with a slash is two path
  // segments (an encoded slash never reaches the admin API: the mesh refuses %2F).
  for (const { base, params } of [
    { base: "/backends/{name}", params: BackendName },
    { base: "/backends/{namespace}/{name}", params: NamespacedBackendName },
  ]) {
    app.openapi(
      createRoute({ method: "get", path: base, tags: ["backends"], summary: "One backend: endpoints, registry, breaker and ejection state", request: { params }, responses: { 200: json(BackendView, "the backend"), 404: notFound } }),
      async (c) => {
        const name = backendName(c.req.valid("param"));
        const backend = await findBackend(c, name);
        if (!backend) return c.json(problem(404, "not_found", `no backend "${name}"`), 404);
        const stub = coordinator(c.env, name);
        const [registered, global] = await Promise.all([stub.endpoints(), stub.snapshot()]);
        return c.json({ ...view(backend), registered, health: { global, isolate: isolate.health.find(name)?.describe() ?? null } }, 200);
      },
    );

    app.openapi(
      createRoute({
        method: "post",
        path: `${base}/endpoints`,
        tags: ["registry"],
        summary: "Register an endpoint (or renew it); it expires unless heartbeats keep it alive",
        request: { params, ...body(Registration) },
        responses: {
          201: json(RegisteredEndpoint, "registered"),
          400: json(ErrorBody, "not an HTTP backend, an unsafe URL (metadata, link-local, unspecified... address, credentials, path), or plain http:// outside loopback to a Backend without spec.tls.mode DISABLE"),
          403: json(ErrorBody, "registration_not_allowed: the Backend's spec.registration (or, without it, its static endpoints' hosts) does not allow this host"),
          404: notFound,
        },
      }),
      async (c) => {
        const name = backendName(c.req.valid("param"));
        const backend = await findBackend(c, name);
        if (!backend) return c.json(problem(404, "not_found", `no backend "${name}"; declare it in a policy file first`), 404);
        if (backend.service) return c.json(problem(400, "invalid_request", `backend "${name}" is a Worker (service binding); only HTTP backends take endpoints`), 400);
        const { ttlSeconds, url, ...rest } = c.req.valid("json");
        const checked = checkEndpointUrl(url);
        if (!checked.ok) return c.json(problem(400, "invalid_request", `url: ${checked.message}`), 400);
        // Who may register is the current version's to say, which this isolate's table may lag behind.
        const spec = (await configStore(c.env).backendSpec(name)) as RegistrationSpec | undefined;
        if (!spec) return c.json(problem(404, "not_found", `no backend "${name}" in the current configuration version`), 404);
        const refusal = registrationRefusal(name, spec, checked.host);
        if (refusal) return c.json(problem(403, "registration_not_allowed", `url: ${refusal}`), 403);
        // Encryption in transit is the default: plain http:// outside loopback only where the Backend opts out.
        const plaintext = plaintextRefusal(name, spec, checked);
        if (plaintext) return c.json(problem(400, "invalid_request", `url: ${plaintext}`), 400);
        // The coordinator writes the audit record with the change (durable-objects/audit-outbox.ts).
        const registered = await coordinator(c.env, name).register(name, { ...rest, url: checked.origin, ttlMs: ttlSeconds * 1000 }, c.var.actor);
        if (!registered.ok) return c.json(problem(400, "invalid_request", registered.message), 400);
        return c.json(registered.endpoint, 201);
      },
    );

    for (const action of ["heartbeat", "drain"] as const) {
      app.openapi(
        createRoute({
          method: "post",
          path: `${base}/endpoints/${action}`,
          tags: ["registry"],
          summary: action === "heartbeat" ? "Keep a registered endpoint alive for another TTL" : "Stop sending new requests to a registered endpoint",
          request: { params, ...body(EndpointUrl) },
          responses: { 200: json(Ok, "done"), 404: notFound },
        }),
        async (c) => {
          const name = backendName(c.req.valid("param"));
          const url = new URL(c.req.valid("json").url).origin;
          // A heartbeat renews, it changes nothing: audited, it would flood the log (one per endpoint per TTL).
          const registry = coordinator(c.env, name);
          const found = (await findBackend(c, name)) !== undefined && (await (action === "drain" ? registry.drain(name, url, c.var.actor) : registry.heartbeat(name, url)));
          if (!found) return c.json(problem(404, "not_found", `${url} is not registered for backend "${name}"`), 404);
          return c.json({ ok: true as const }, 200);
        },
      );
    }

    app.openapi(
      createRoute({
        method: "delete",
        path: `${base}/endpoints`,
        tags: ["registry"],
        summary: "Deregister an endpoint",
        request: { params, query: EndpointUrl },
        responses: { 200: json(Ok, "deregistered"), 404: notFound },
      }),
      async (c) => {
        const name = backendName(c.req.valid("param"));
        const url = new URL(c.req.valid("query").url).origin;
        // An unknown name must not bring a coordinator into being.
        const found = (await findBackend(c, name)) !== undefined && (await coordinator(c.env, name).deregister(name, url, c.var.actor));
        if (!found) return c.json(problem(404, "not_found", `${url} is not registered for backend "${name}"`), 404);
        return c.json({ ok: true as const }, 200);
      },
    );
  }
}
