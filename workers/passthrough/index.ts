/**
 * A bare pass-through Worker: one fetch() to the upstream per request and nothing else. The benchmark
 * runs it beside the gateway as the floor any Worker proxy pays on this platform.
 */
interface PassthroughEnv {
  /** Origin to forward to, e.g. "http://127.0.0.1:9101" (a text binding set by the benchmark). */
  UPSTREAM: string;
}

export default {
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.UPSTREAM + url.pathname + url.search, request);
  },
} satisfies ExportedHandler<PassthroughEnv>;
