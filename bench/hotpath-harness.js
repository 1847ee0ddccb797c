// bench/hotpath.ts's Worker: runs the gateway bundle beside it ("./gateway.js") k times per request
// on the benchmark's request, with fetch() answering at once as the benchmark's upstream does (same
// status, headers and body) instead of going out: what is left is the gateway's own work.
import gateway from "./gateway.js";

const BODY = "hello from the upstream\n";
const answer = () =>
  new Response(BODY, {
    status: 200,
    headers: { connection: "keep-alive", "content-length": "24", "content-type": "text/plain", date: new Date().toUTCString(), "x-upstream-port": "9101" },
  });
// Upstream requests that carried the mesh's caller token, counted only when a run asks (?check=1).
let checking = false;
let callerTokens = 0;
globalThis.fetch = async (input, init) => {
  if (checking && new Headers(input instanceof Request ? input.headers : init?.headers).has("edgemesh-caller-token")) callerTokens++;
  // Read the body as the platform would send it (none here: a GET).
  await init?.body?.cancel?.();
  return answer();
};

export default {
  async fetch(request, env, ctx) {
    const params = new URL(request.url).searchParams;
    const k = Number(params.get("k") ?? 0);
    const url = `http://${params.get("host")}${params.get("path")}`;
    const headers = JSON.parse(env.HOTPATH_HEADERS ?? "{}");
    checking = params.get("check") === "1";
    callerTokens = 0;
    for (let i = 0; i < k; i++) {
      const response = await gateway.fetch(new Request(url, { headers }), env, ctx);
      if (response.status !== 200) return new Response(`the gateway answered ${response.status}: ${await response.text()}`, { status: 500 });
      await response.arrayBuffer();
    }
    return new Response("ok", { headers: { "x-caller-tokens": String(callerTokens) } });
  },
};
