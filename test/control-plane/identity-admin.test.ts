/**
 * The Issuer through the admin API: signing keys listed (never a private part), rotated and revoked
 * (the bundle every isolate verifies with changes; a revoked key's tokens are refused), and
 * bootstrap credentials made, exchanged, listed and deleted at run time, the secret in the answer
 * that made it and nowhere else. Every change is in the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialHash } from "../../common/identity/credentials.ts";
import type { TrustBundle } from "../../common/identity/bundle.ts";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { CALLER, TRUST_DOMAIN } from "../support/tokens.ts";
import { Upstream, type Echo } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";
import { exchangedToken } from "../support/workload-token.ts";

const HEADER = "edgemesh-workload-token";
const REVIEWS = `spiffe://${TRUST_DOMAIN}/ns/default/sa/reviews`;
const RATINGS = `spiffe://${TRUST_DOMAIN}/ns/default/sa/ratings`;
const FROM_SECRET = `spiffe://${TRUST_DOMAIN}/ns/default/sa/details`;
const FROM_SECRET_VALUE = "s".repeat(40);

let upstream: Upstream;
let mesh: TestGateway;
type Key = { kid: string; state: string; [field: string]: unknown };
type Audit = { entries: { actor: string; action: string; detail: Record<string, unknown> }[] };

beforeAll(async () => {
  upstream = await Upstream.start("app");
  const app = { ...backend("app", [upstream.url]), spec: { endpoints: [{ url: upstream.url }], peerAuthentication: { mode: "STRICT" } } };
  mesh = await TestGateway.start([app, simpleRoute("app", "app.test", "app")], {
    isolates: 2,
    vars: { MESH_TRUST_DOMAIN: TRUST_DOMAIN, CONFIG_POLL_INTERVAL_MS: "200", MESH_WORKLOAD_CREDENTIALS: JSON.stringify({ [FROM_SECRET]: await credentialHash(FROM_SECRET_VALUE) }) },
  });
});
afterAll(async () => {
  await mesh?.dispose();
  await upstream?.close();
});

const statusWith = async (token: string, isolate = 0) => {
  const response = await mesh.fetch("http://app.test/", { headers: { [HEADER]: token } }, isolate);
  await response.arrayBuffer();
  return response.status;
};
/** The kids an isolate verifies with, after a mesh request (an isolate reads the snapshot only when it has traffic). */
const kidsAt = async (isolate: number) => {
  await (await mesh.fetch("http://app.test/", {}, isolate)).arrayBuffer();
  return ((await (await mesh.fetch("http://any.test/.well-known/jwks.json", {}, isolate)).json()) as TrustBundle).keys.map((key) => key.kid);
};
const exchange = async (spiffeId: string, credential: string) => {
  const response = await mesh.fetch("http://any.test/edgemesh/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ spiffeId, credential }) });
  return { status: response.status, body: (await response.json()) as { token?: string; error?: { message: string } } };
};
const lastAudit = async () => (await mesh.admin<Audit>("GET", "/audit?limit=1")).body.entries[0]!;

describe("signing keys", () => {
  it("lists kids, states and times, and nothing private", async () => {
    await kidsAt(0);
    const { status, body } = await mesh.admin<{ keys: Key[] }>("GET", "/identity/keys");
    expect(status).toBe(200);
    expect(body.keys.length).toBeGreaterThan(0);
    for (const key of body.keys) expect(Object.keys(key).sort()).toEqual(["activatesAt", "alg", "createdAt", "kid", "pinned", "publishedUntil", "retiredAt", "state"]);
    expect(JSON.stringify(body)).not.toMatch(/"d"|private/);
  });

  it("rotate publishes the next key to every isolate, audited", async () => {
    const { status, body } = await mesh.admin<{ keys: Key[] }>("POST", "/identity/keys/rotate");
    expect(status).toBe(200);
    const next = body.keys.find((key) => key.state === "published")!;
    expect(next).toBeDefined();
    expect(await lastAudit()).toMatchObject({ action: "rotate_key", actor: "break-glass:ADMIN_TOKEN", detail: { next: [next.kid] } });
    await waitFor("the next key in both isolates' bundles", async () => (await kidsAt(0)).includes(next.kid) && (await kidsAt(1)).includes(next.kid), { timeoutMs: 5_000, intervalMs: 50 });
  });

  it("revoke drops a key at once: its tokens are refused, the bundle no longer has it", async () => {
    const issuer = await mesh.durableObject("ISSUER", "issuer");
    const issued = await exchangedToken(issuer, CALLER);
    expect(await statusWith(issued.token, 1)).toBe(200);
    const { status } = await mesh.admin("POST", `/identity/keys/${issued.kid}/revoke`);
    expect(status).toBe(200);
    expect(await lastAudit()).toMatchObject({ action: "revoke_key", actor: "break-glass:ADMIN_TOKEN", detail: { kid: issued.kid } });
    await waitFor("the revoked kid gone from both isolates", async () => !(await kidsAt(0)).includes(issued.kid) && !(await kidsAt(1)).includes(issued.kid), { timeoutMs: 5_000, intervalMs: 50 });
    // Cached as verified in isolate 1, and refused there now: the cache goes with the key.
    expect(await statusWith(issued.token, 1)).toBe(401);
    expect(await statusWith(issued.token, 0)).toBe(401);
    expect((await mesh.admin<{ error: { reason: string } }>("POST", `/identity/keys/${issued.kid}/revoke`)).body.error.reason).toBe("not_found");
    expect((await mesh.admin("POST", "/identity/keys/not%20a%20kid/revoke")).status).toBe(400);
  });

  it("revoke also ends the cached token the gateway sends upstream for a caller: verifying origins never see the revoked key again", async () => {
    const issuer = await mesh.durableObject("ISSUER", "issuer");
    const before = await exchangedToken(issuer, CALLER);
    const sentKid = async (token: string) => {
      const response = await mesh.fetch("http://app.test/", { headers: { [HEADER]: token } }, 1);
      expect(response.status).toBe(200);
      const caller = ((await response.json()) as Echo).headers["edgemesh-caller-token"] as string;
      return (JSON.parse(atob(caller.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/"))) as { kid: string }).kid;
    };
    // The pair (CALLER, app) has a cached caller token, signed by the key that signs now.
    expect(await sentKid(before.token)).toBe(before.kid);
    expect(await sentKid(before.token)).toBe(before.kid);
    expect((await mesh.admin("POST", `/identity/keys/${before.kid}/revoke`)).status).toBe(200);
    await waitFor("the revoked kid gone from isolate 1", async () => !(await kidsAt(1)).includes(before.kid), { timeoutMs: 5_000, intervalMs: 50 });
    const after = await exchangedToken(issuer, CALLER);
    expect(after.kid).not.toBe(before.kid);
    // Same pair, same isolate, well within the cached token's life: a token of a key still published goes upstream.
    const kid = await sentKid(after.token);
    expect(kid).not.toBe(before.kid);
    expect(await kidsAt(1)).toContain(kid);
    // The key that signs now in both isolates' bundles before the next test mints with it (an isolate
    // that lacks it refreshes on an unknown kid at most once per 10 s, which these calls may have used).
    await waitFor("the signing key in both isolates", async () => (await kidsAt(0)).includes(after.kid) && (await kidsAt(1)).includes(after.kid), { timeoutMs: 5_000, intervalMs: 50 });
  });
});

describe("bootstrap credentials", () => {
  it("create → exchange works → delete → exchange 401; the secret is never listed nor audited", async () => {
    const created = await mesh.admin<{ spiffeId: string; credential: string; createdAt: number }>("POST", "/identity/credentials", { spiffeId: REVIEWS });
    expect(created.status).toBe(201);
    const secret = created.body.credential;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await lastAudit()).toMatchObject({ action: "create_credential", actor: "break-glass:ADMIN_TOKEN", detail: { spiffeId: REVIEWS } });

    const exchanged = await exchange(REVIEWS, secret);
    expect(exchanged.status).toBe(200);
    expect(await statusWith(exchanged.body.token!)).toBe(200);

    const listed = await mesh.admin<{ credentials: { spiffeId: string; source: string; createdAt: number | null }[] }>("GET", "/identity/credentials");
    expect(listed.body.credentials).toEqual([
      { spiffeId: FROM_SECRET, source: "secret", createdAt: null },
      { spiffeId: REVIEWS, source: "stored", createdAt: created.body.createdAt },
    ]);
    const hash = (await credentialHash(secret)).slice(7);
    const everything = JSON.stringify([listed.body, (await mesh.admin("GET", "/audit?limit=500")).body]);
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(hash);

    // The path takes the SPIFFE ID as it is, slashes and all.
    expect((await mesh.admin("DELETE", `/identity/credentials/${REVIEWS}`)).status).toBe(200);
    expect(await lastAudit()).toMatchObject({ action: "delete_credential", detail: { spiffeId: REVIEWS } });
    // What is no SPIFFE ID is a 400 naming the parameter, not a 404 for a credential never made.
    const garbage = await mesh.admin<{ error: { message: string } }>("DELETE", "/identity/credentials/not-an-id");
    expect(garbage.status).toBe(400);
    expect(garbage.body.error.message).toMatch(/^spiffeId: must be a SPIFFE ID/);
    const refused = await exchange(REVIEWS, secret);
    const unknown = await exchange(RATINGS, secret);
    expect(refused.status).toBe(401);
    // One answer whatever was wrong: a deleted credential reads as a service that never had one.
    expect(refused.body).toEqual(unknown.body);
    expect((await mesh.admin("DELETE", `/identity/credentials/${REVIEWS}`)).status).toBe(404);
  });

  it("refuses a second credential for one identity, IDs of other trust domains, and deleting the secret's", async () => {
    expect((await mesh.admin("POST", "/identity/credentials", { spiffeId: RATINGS })).status).toBe(201);
    expect((await mesh.admin<{ error: { reason: string } }>("POST", "/identity/credentials", { spiffeId: RATINGS })).body.error.reason).toBe("credential_exists");
    expect((await mesh.admin<{ error: { reason: string } }>("POST", "/identity/credentials", { spiffeId: FROM_SECRET })).body.error.reason).toBe("credential_exists");
    expect((await mesh.admin("POST", "/identity/credentials", { spiffeId: "spiffe://other.test/ns/default/sa/ratings" })).status).toBe(400);
    expect((await mesh.admin("POST", "/identity/credentials", { spiffeId: "ratings" })).status).toBe(400);
    expect((await mesh.admin("POST", "/identity/credentials", { spiffeId: RATINGS, credential: "mine" })).status).toBe(400);
    expect((await mesh.admin<{ error: { reason: string } }>("DELETE", `/identity/credentials/${FROM_SECRET}`)).body.error.reason).toBe("credential_in_secret");
    // The secret's credential still exchanges.
    expect((await exchange(FROM_SECRET, FROM_SECRET_VALUE)).status).toBe(200);
  });

  it("answers the secret with Cache-Control: no-store", async () => {
    const response = await mesh.fetch("http://admin.test/admin/identity/credentials", {
      method: "POST",
      headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" },
      body: JSON.stringify({ spiffeId: `spiffe://${TRUST_DOMAIN}/ns/shop/sa/cart` }),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("cache-control")).toBe("no-store");
    await response.arrayBuffer();
  });
});
