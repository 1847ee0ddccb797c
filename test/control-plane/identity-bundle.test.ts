/**
 * The trust bundle reaches gateway isolates the way configuration does: the Issuer pushes it to the
 * ConfigStore, whose KV snapshot every isolate polls. `/.well-known/jwks.json` serves what an
 * isolate verifies with. A pinned key (MESH_ISSUER_KEY) is the one key, and cannot be rotated or
 * revoked through the API.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TrustBundle } from "../../common/identity/bundle.ts";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { makeKey, TRUST_DOMAIN, type TestKey } from "../support/tokens.ts";
import { Upstream } from "../support/upstream.ts";

let upstream: Upstream;
const POLL_MS = 200;
const documents = () => [backend("app", [upstream.url]), simpleRoute("app", "app.test", "app")];

beforeAll(async () => {
  upstream = await Upstream.start("app");
});
afterAll(() => upstream.close());

const jwks = async (mesh: TestGateway, isolate = 0, headers: Record<string, string> = {}) => {
  const response = await mesh.fetch("http://any.test/.well-known/jwks.json", { headers }, isolate);
  return { response, body: response.status === 200 ? ((await response.json()) as TrustBundle) : undefined };
};

/** Sends mesh traffic (which is what makes an isolate poll) until its JWKS satisfies `done`, within a bound. */
async function untilBundle(mesh: TestGateway, isolate: number, done: (bundle: TrustBundle) => boolean): Promise<TrustBundle> {
  for (let i = 0; i < 100; i++) {
    await (await mesh.fetch("http://app.test/", {}, isolate)).arrayBuffer();
    const { body } = await jwks(mesh, isolate);
    if (body && done(body)) return body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the bundle did not reach the isolate within 100 tries");
}

describe("a pinned key (MESH_ISSUER_KEY)", () => {
  let mesh: TestGateway;
  let key: TestKey;
  beforeAll(async () => {
    key = await makeKey();
    mesh = await TestGateway.start(documents(), {
      isolates: 1,
      // A long pre-publication (2 h) makes a refresh hint of an hour: the JWKS is cached 300 s at most all the same.
      vars: { CONFIG_POLL_INTERVAL_MS: String(POLL_MS), MESH_TRUST_DOMAIN: TRUST_DOMAIN, MESH_ISSUER_KEY: JSON.stringify(key.privateJwk), MESH_KEY_PREPUBLISH_MS: "7200000" },
    });
  });
  afterAll(() => mesh?.dispose());

  it("is the bundle at /.well-known/jwks.json, public part only, with cache headers (at most 300 s, so a revoked key leaves caches soon)", async () => {
    const { response, body } = await jwks(mesh);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/jwk-set+json");
    expect(body!.spiffe_refresh_hint).toBe(3600);
    expect(response.headers.get("cache-control")).toBe("public, max-age=300");
    expect(body!.keys).toEqual([key.publicJwk]);
    expect(JSON.stringify(body)).not.toContain('"d"');
    expect(body!.spiffe_sequence).toBeGreaterThanOrEqual(1);
    const etag = response.headers.get("etag")!;
    expect(etag).toBe(`"${body!.spiffe_sequence}"`);
    expect((await jwks(mesh, 0, { "if-none-match": etag })).response.status).toBe(304);
    expect((await mesh.fetch("http://any.test/.well-known/jwks.json", { method: "POST" })).status).toBe(405);
  });

  it("reaches the ConfigStore's snapshot, and cannot be rotated or revoked through the Issuer", async () => {
    // The Issuer pushes in the background of the call that made the change: wait for it, bounded.
    const store = await mesh.durableObject("CONFIG_STORE", "config");
    let pushed: TrustBundle | undefined;
    for (let i = 0; i < 100 && !pushed; i++) {
      pushed = ((await store.snapshot!()) as { trustBundle?: TrustBundle }).trustBundle;
      if (!pushed) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(pushed?.keys).toEqual([key.publicJwk]);
    const issuer = await mesh.durableObject("ISSUER", "issuer");
    expect(await issuer.keyInfo!()).toMatchObject([{ kid: key.kid, state: "signing", pinned: true }]);
    expect(await issuer.revoke!(key.kid)).toMatchObject({ ok: false, status: 409, reason: "key_pinned" });
    expect(await issuer.rotate!()).toHaveLength(1);
  });
});

describe("generated keys", () => {
  let mesh: TestGateway;
  beforeAll(async () => {
    mesh = await TestGateway.start(documents(), { isolates: 2, vars: { CONFIG_POLL_INTERVAL_MS: String(POLL_MS), MESH_TRUST_DOMAIN: TRUST_DOMAIN } });
  });
  afterAll(() => mesh?.dispose());

  it("a rotation and a revocation reach every isolate through the snapshot", async () => {
    const issuer = await mesh.durableObject("ISSUER", "issuer");
    const first = await untilBundle(mesh, 1, (bundle) => bundle.keys.length === 1);
    const [signing] = first.keys;
    expect((await issuer.keyInfo!()) as unknown[]).toMatchObject([{ kid: signing!.kid, state: "signing" }]);

    await issuer.rotate!();
    for (const isolate of [0, 1]) {
      const rotated = await untilBundle(mesh, isolate, (bundle) => bundle.keys.length === 2);
      expect(rotated.keys[0]).toEqual(signing);
      expect(rotated.spiffe_sequence).toBeGreaterThan(first.spiffe_sequence);
    }

    // Revoking the signing key: the published next key signs at once, the revoked one is gone.
    const revoked = (await issuer.revoke!(signing!.kid)) as { ok: boolean; keys: { kid: string; state: string }[] };
    expect(revoked.ok).toBe(true);
    expect(revoked.keys.map((k) => k.state)).toEqual(["signing"]);
    for (const isolate of [0, 1]) {
      const after = await untilBundle(mesh, isolate, (bundle) => !bundle.keys.some((k) => k.kid === signing!.kid));
      expect(after.keys.map((k) => k.kid)).toEqual([revoked.keys[0]!.kid]);
    }
  });
});
