import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

const STUB_WORKER = "export default { fetch() { return new Response(null, { status: 501 }); } };";

export default defineConfig({
  test: {
    // Two cores: each test file runs its own workerd, so more files at once only thrash.
    maxWorkers: 2,
    projects: [
      {
        // Black-box tests: the deploy bundle in workerd (Miniflare API) against real loopback upstreams.
        test: {
          name: "mesh",
          include: ["test/**/*.test.ts"],
          exclude: ["test/durable-objects/**"],
          globalSetup: ["test/support/global-setup.ts"],
          environment: "node",
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // Durable Objects from the inside, in workerd: storage and alarms fired on demand.
        plugins: [
          cloudflareTest({
            main: "./workers/gateway/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            // The demo Workers the gateway's service bindings name; these tests do not call them.
            miniflare: { workers: ["edgemesh-demo-productpage", "edgemesh-demo-ratings"].map((name) => ({ name, modules: true, script: STUB_WORKER })) },
          }),
        ],
        test: { name: "durable-objects", include: ["test/durable-objects/**/*.test.ts"] },
      },
    ],
  },
});
