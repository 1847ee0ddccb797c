/** Builders for policy documents in tests: the same shapes as policies/*.yaml, less typing. */
type Spec = Record<string, unknown>;

export const backend = (name: string, endpoints: string[] | { service: string }, extra: Spec = {}) => ({
  apiVersion: "edgemesh.dev/v1alpha1",
  kind: "Backend",
  metadata: { name },
  spec: Array.isArray(endpoints) ? { endpoints: endpoints.map((url) => ({ url, ...extra })) } : { worker: endpoints },
});

export const route = (name: string, spec: Spec) => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: { name },
  spec,
});

/** A route sending everything for `hostname` to one backend, with optional rule fields. */
export const simpleRoute = (name: string, hostname: string, backendName: string, rule: Spec = {}) =>
  route(name, { hostnames: [hostname], rules: [{ backendRefs: [{ name: backendName }], ...rule }] });

export const trafficPolicy = (name: string, target: { kind: "Backend" | "HTTPRoute"; name: string }, spec: Spec) => ({
  apiVersion: "edgemesh.dev/v1alpha1",
  kind: "BackendTrafficPolicy",
  metadata: { name },
  spec: {
    targetRefs: [{ group: target.kind === "Backend" ? "edgemesh.dev" : "gateway.networking.k8s.io", ...target }],
    ...spec,
  },
});
