/**
 * The unknown-kid refresh, end to end: a gateway isolate whose snapshot poll is 10 minutes away
 * learns a key the Issuer made after it last read KV only by asking the Issuer, on the first token
 * that names it; tokens with made-up kids make it ask at most once per MESH_KID_REFRESH_INTERVAL_MS,
 * and never reach the upstream. Issuer calls are counted by the gateway's "trust bundle refreshed"
 * log lines.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TrustBundle } from "../../common/identity/bundle.ts";
import type { MeshSnapshot, RevokeResult } from "../../common/protocol.ts";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { CALLER, makeKey, signParts, claims, TRUST_DOMAIN, type TestKey } from "../support/tokens.ts";
import { Upstream } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";
import { exchangedToken } from "../support/workload-token.ts";

const HEADER = "edgemesh-workload-token";
/** Far beyond the test: no snapshot read after the first can bring a key. */
const POLL_MS = 600_000;
const REFRESH_INTERVAL_MS = 3_000;
/** workerd's clock and Node's agree, but a request's Date.now() is taken when its I/O event fired. */
const MARGIN_MS = 250;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nowS = () => Math.floor(Date.now() / 1000);

let upstream: Upstream;
let mesh: TestGateway;
let issuer: Awaited<ReturnType<TestGateway["durableObject"]>>;
let firstKid: string;
let checkedAt: number | null;

const refreshes = () => mesh.logs.filter((record) => record.message === "trust bundle refreshed");
const issue = () => exchangedToken(issuer, CALLER);
const kidsAtGateway = async () => {
  const response = await mesh.fetch("http://any.test/.well-known/jwks.json");
  return ((await response.json()) as TrustBundle).keys.map((key) => key.kid);
};
const controlPlaneRead = async () =>
  (await mesh.admin<{ isolate: { controlPlane: { version: number | null; checkedAt: number | null } } }>("GET", "/status")).body.isolate.controlPlane;
async function call(token?: string) {
  const response = await mesh.fetch("http://app.test/", { headers: token ? { [HEADER]: token } : {} });
  const text = await response.text();
  const outcome = await mesh.outcomeOf(response.headers.get("x-request-id")!);
  return { status: response.status, authenticate: response.headers.get("www-authenticate"), body: JSON.parse(text), outcome };
}
/** A well-formed token for the mesh under a kid nobody published. */
const madeUpKid = (key: TestKey) => signParts(key, { alg: key.alg, kid: `made-up-${crypto.randomUUID()}`, typ: "JWT" }, claims(nowS()));

beforeAll(async () => {
  upstream = await Upstream.start("app");
  mesh = await TestGateway.start(
    [{ ...backend("app", [upstream.url]), spec: { endpoints: [{ url: upstream.url }], peerAuthentication: { mode: "STRICT" } } }, simpleRoute("app", "app.test", "app")],
    { isolates: 1, vars: { CONFIG_POLL_INTERVAL_MS: String(POLL_MS), MESH_KID_REFRESH_INTERVAL_MS: String(REFRESH_INTERVAL_MS), MESH_TRUST_DOMAIN: TRUST_DOMAIN } },
  );
  issuer = await mesh.durableObject("ISSUER", "issuer");
  // The first token makes the first key, which the Issuer pushes to the ConfigStore in the background.
  const first = await issue();
  firstKid = first.kid;
  const store = await mesh.durableObject("CONFIG_STORE", "config");
  await waitFor("the first key in the ConfigStore's snapshot", async () => ((await store.snapshot!()) as MeshSnapshot).trustBundle?.keys.some((key) => key.kid === firstKid) ?? false);
  // The isolate's one snapshot read (its first request starts it), which brings that key.
  await waitFor("the isolate's first snapshot read", async () => {
    await call();
    return (await controlPlaneRead()).version !== null;
  });
  expect(await kidsAtGateway()).toEqual([firstKid]);
  checkedAt = (await controlPlaneRead()).checkedAt;
  expect((await call(first.token)).status).toBe(200);
  // A known kid asks nobody.
  expect(refreshes()).toHaveLength(0);
});

afterAll(async () => {
  await mesh?.dispose();
  await upstream?.close();
});

describe("a kid the gateway has not seen", () => {
  it("is fetched from the Issuer by its first request, which reaches the upstream", async () => {
    // Revoking the signing key with no next key published: a brand-new key signs at once.
    const revoked = (await issuer.revoke!(firstKid)) as RevokeResult;
    if (!revoked.ok) throw new Error(revoked.message);
    const newKid = revoked.keys[0]!.kid;
    const store = await mesh.durableObject("CONFIG_STORE", "config");
    expect(((await store.snapshot!()) as MeshSnapshot).trustBundle!.keys.map((key) => key.kid)).toEqual([newKid]);
    // In the store and KV, not in the isolate: its next poll is minutes away.
    expect(await kidsAtGateway()).toEqual([firstKid]);

    const token = await issue();
    expect(token.kid).toBe(newKid);
    upstream.received.length = 0;
    const { status, outcome } = await call(token.token);
    expect(status).toBe(200);
    expect(outcome.source).toEqual({ id: CALLER, via: "token" });
    expect(upstream.received).toHaveLength(1);
    await waitFor("the refresh's log line", () => refreshes().length === 1);
    expect(refreshes()[0]).toMatchObject({ level: "info", changed: true, keys: 1 });
    expect(await kidsAtGateway()).toEqual([newKid]);
    // No snapshot read started since the first: only the refresh can have brought the key.
    expect((await controlPlaneRead()).checkedAt).toBe(checkedAt);
  });

  it("made-up kids, 50 of them, ask the Issuer at most once per interval and are refused unknown_kid", async () => {
    await sleep(REFRESH_INTERVAL_MS + MARGIN_MS);
    const key = await makeKey();
    const before = refreshes().length;
    upstream.received.length = 0;
    const startedAt = Date.now();
    const results = [];
    // Waves of 10: concurrent requests share the one call, later ones find the interval not over.
    for (let wave = 0; wave < 5; wave++) results.push(...(await Promise.all(Array.from({ length: 10 }, async () => call(await madeUpKid(key))))));
    const elapsedMs = Date.now() - startedAt;
    for (const { status, authenticate, body, outcome } of results) {
      expect([status, body.error.reason, authenticate, outcome.source]).toEqual([401, "unauthenticated", 'Edgemesh-Workload-Token error="unknown_kid"', { refused: "unknown_kid" }]);
      expect(body.error.message).toMatch(/^unknown_kid: /);
    }
    expect(upstream.received).toHaveLength(0);
    // Every outcome is logged, and a refresh logs before the answer it holds up: the count is complete.
    const added = refreshes().slice(before);
    expect(added.length).toBeGreaterThanOrEqual(1);
    expect(added.length).toBeLessThanOrEqual(1 + Math.floor(elapsedMs / REFRESH_INTERVAL_MS));
    expect(added.map((record) => record.changed)).toEqual(added.map(() => false));
  });

  it("once the interval has passed, a new unknown kid asks the Issuer again", async () => {
    const key = await makeKey();
    // From the end of the flood, so past any refresh it made.
    await sleep(REFRESH_INTERVAL_MS + MARGIN_MS);
    const before = refreshes().length;
    expect((await call(await madeUpKid(key))).outcome.source).toEqual({ refused: "unknown_kid" });
    await waitFor("a second refresh's log line", () => refreshes().length === before + 1);
    expect(upstream.received).toHaveLength(0);
  });
});
