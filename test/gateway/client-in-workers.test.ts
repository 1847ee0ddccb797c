/**
 * The client module runs in Workers too: a Worker backend (test/support/client-worker.ts, bundled
 * with esbuild for workerd) verifies the gateway's caller token against the gateway's real JWKS,
 * over several requests (the key set fetched by one request serves the next), for a Worker caller
 * and for an anonymous client (whose calls the gateway vouches for as itself).
 */
import { build } from "esbuild";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { TRUST_DOMAIN } from "../support/tokens.ts";

let mesh: TestGateway;
let jwksUrl: string;

beforeAll(async () => {
  const bundled = await build({ entryPoints: [join(import.meta.dirname, "../support/client-worker.ts")], bundle: true, format: "esm", write: false, platform: "neutral", conditions: ["workerd", "worker", "browser"], mainFields: ["browser", "module", "main"] });
  mesh = await TestGateway.start(
    [backend("wrk", { service: "WRK" }), simpleRoute("wrk", "wrk.test", "wrk")],
    { isolates: 1, vars: { MESH_TRUST_DOMAIN: TRUST_DOMAIN }, workers: [{ binding: "WRK", script: bundled.outputFiles[0]!.text }], callers: [{ name: "productpage", props: { service: "productpage" } }] },
  );
  jwksUrl = `${(await mesh.url()).replace(/\/$/, "")}/.well-known/jwks.json`;
});

afterAll(async () => {
  await mesh?.dispose();
});

describe("the client module in a Worker", () => {
  it("verifies the mesh's caller token, request after request, and names the caller", async () => {
    const headers = { "x-test-jwks-url": jwksUrl };
    for (let i = 0; i < 3; i++) {
      const response = await mesh.fetchAs("productpage", "http://wrk.test/", { headers });
      expect(await response.json()).toEqual({ ok: true, caller: `spiffe://${TRUST_DOMAIN}/ns/default/sa/productpage` });
    }
    // An anonymous client through the mesh: the gateway vouches for the call as itself.
    expect(await (await mesh.fetch("http://wrk.test/", { headers })).json()).toEqual({ ok: true, caller: `spiffe://${TRUST_DOMAIN}/ns/edgemesh/sa/gateway` });
  });
});
