// The least a mesh proxy must do per request: copy and edit the request headers (hop-by-hop out,
// forwarding, request id, trace), bound the call with a timer, and return an editable response.
let upstream;
const HOP = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));
export default {
  async fetch(request, env) {
    upstream ??= JSON.parse(env.MESH_POLICIES).find((d) => d.kind === "Backend" && d.metadata.name === "orders").spec.endpoints[0].url;
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    for (const name of HOP) headers.delete(name);
    const id = crypto.randomUUID();
    const random = crypto.getRandomValues(new Uint8Array(24));
    let trace = "00-"; for (let i = 0; i < 16; i++) trace += HEX[random[i]]; trace += "-"; for (let i = 16; i < 24; i++) trace += HEX[random[i]]; trace += "-01";
    headers.set("x-request-id", id);
    headers.set("traceparent", trace);
    headers.set("x-forwarded-proto", "http");
    headers.set("x-forwarded-host", url.host);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 15000);
    try {
      const response = await fetch(upstream + url.pathname + url.search, { method: request.method, headers, body: request.body, redirect: "manual", signal: controller.signal });
      const editable = new Response(response.body, response);
      for (const name of HOP) editable.headers.delete(name);
      editable.headers.set("x-request-id", id);
      return editable;
    } finally {
      clearTimeout(timer);
    }
  },
};
