/**
 * Tokens the Issuer signs, verified by gateway isolates that learn its keys only from the snapshot:
 * a rotation with traffic flowing fails no request (the next key reaches every isolate before it
 * signs), on either hop: the upstream here verifies the mesh's caller token with the client module
 * against the gateway's JWKS, as an origin would. A KV namespace that stops answering leaves the last
 * good keys in force.
 */
import { createServer, type Server } from "node:http";
import { decodeProtectedHeader } from "jose";
import { meshVerifier, type MeshVerifier } from "../../client/mesh-identity.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TrustBundle } from "../../common/identity/bundle.ts";
import type { SigningKeyInfo } from "../../common/protocol.ts";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { CALLER, TRUST_DOMAIN } from "../support/tokens.ts";
import { Upstream } from "../support/upstream.ts";
import { HANG_MARKER, HANGING_KV } from "../support/hanging-kv.ts";
import { exchangedToken } from "../support/workload-token.ts";

const HEADER = "edgemesh-workload-token";
const POLL_MS = 200;
const PREPUBLISH_MS = 3_000;
let upstream: Upstream;
/** An origin that answers 200 only to a call the mesh vouches for (its caller token verifies), else 401 with the reason. */
let verifying: Server;
let verifyingUrl: string;
let origin: MeshVerifier | undefined;
/** The kids of the caller tokens the origin verified. */
const originKids = new Set<string>();
const documents = (extra: unknown[] = []) => [
  { ...backend("app", [upstream.url]), spec: { endpoints: [{ url: upstream.url }], peerAuthentication: { mode: "STRICT" } } },
  simpleRoute("app", "app.test", "app"),
  { ...backend("verified", [verifyingUrl]), spec: { endpoints: [{ url: verifyingUrl }], peerAuthentication: { mode: "STRICT" } } },
  simpleRoute("verified", "verified.test", "verified"),
  ...extra,
];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  upstream = await Upstream.start("app");
  verifying = createServer((request, response) => {
    request.resume();
    void (origin ? origin.verify(request.headers) : Promise.resolve({ ok: false as const, reason: "no verifier yet" })).then((result) => {
      if (result.ok) originKids.add(decodeProtectedHeader(request.headers["edgemesh-caller-token"] as string).kid!);
      response.writeHead(result.ok ? 200 : 401).end(result.ok ? result.token.subject.id : result.reason);
    });
  });
  await new Promise<void>((resolve) => verifying.listen(0, "127.0.0.1", resolve));
  verifyingUrl = `http://127.0.0.1:${(verifying.address() as { port: number }).port}`;
});
afterAll(async () => {
  verifying.closeAllConnections();
  await new Promise((resolve) => verifying.close(resolve));
  await upstream.close();
});

type Issuer = Awaited<ReturnType<TestGateway["durableObject"]>>;
const issue = (issuer: Issuer, subject = CALLER) => exchangedToken(issuer, subject);
const statusWith = async (mesh: TestGateway, token: string, isolate: number, host = "app.test") => {
  const response = await mesh.fetch(`http://${host}/`, { headers: { [HEADER]: token } }, isolate);
  const body = await response.text();
  return response.status === 200 || host === "app.test" ? response.status : `${response.status} ${body}`;
};
const kidsAt = async (mesh: TestGateway, isolate: number) => {
  const response = await mesh.fetch("http://any.test/.well-known/jwks.json", {}, isolate);
  return ((await response.json()) as TrustBundle).keys.map((key) => key.kid);
};

describe("a key rotation with traffic flowing", () => {
  let mesh: TestGateway;
  beforeAll(async () => {
    mesh = await TestGateway.start(documents(), {
      isolates: 2,
      vars: { CONFIG_POLL_INTERVAL_MS: String(POLL_MS), MESH_TRUST_DOMAIN: TRUST_DOMAIN, MESH_KEY_PREPUBLISH_MS: String(PREPUBLISH_MS) },
    });
    const jwksUrl = `${(await mesh.url()).replace(/\/$/, "")}/.well-known/jwks.json`;
    origin = meshVerifier({ jwksUrl, audience: `spiffe://${TRUST_DOMAIN}/ns/default/sa/verified`, trustDomain: TRUST_DOMAIN });
  });
  afterAll(async () => {
    origin = undefined;
    await mesh?.dispose();
  });

  it("fails no request on either hop: the next key is in every isolate's bundle before it signs, and the origin verifies every caller token", async () => {
    const issuer = await mesh.durableObject("ISSUER", "issuer");
    const first = await issue(issuer);
    expect(await statusWith(mesh, first.token, 0)).toBe(200);
    expect(await statusWith(mesh, first.token, 0, "verified.test")).toBe(200);
    const [next] = ((await issuer.rotate!()) as SigningKeyInfo[]).filter((key) => key.state === "published");
    const statuses: (number | string)[] = [];
    const kids = new Set<string>();
    const seenAt = new Map<number, number>();
    // Traffic on both isolates with fresh tokens, until well after the next key took over. A new
    // caller each round: its caller token toward the origin is signed then (a pair's is cached), by the new key once it signs.
    for (let round = 0; Date.now() < next!.activatesAt + 1_500; round++) {
      const token = await issue(issuer, `${CALLER}-${round}`);
      kids.add(token.kid);
      statuses.push(...(await Promise.all([0, 1].flatMap((isolate) => ["app.test", "verified.test"].map((host) => statusWith(mesh, token.token, isolate, host))))));
      for (const isolate of [0, 1]) if (!seenAt.has(isolate) && (await kidsAt(mesh, isolate)).includes(next!.kid)) seenAt.set(isolate, Date.now());
      await sleep(50);
    }
    expect(kids).toEqual(new Set([first.kid, next!.kid]));
    expect(originKids).toEqual(new Set([first.kid, next!.kid]));
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    // Learnt from the snapshot, ahead of the switch (not from an unknown-kid refresh after it).
    for (const isolate of [0, 1]) expect(seenAt.get(isolate)).toBeLessThan(next!.activatesAt);
    // Tokens of the old key still verify until they expire.
    expect(await statusWith(mesh, first.token, 1)).toBe(200);
    expect(await statusWith(mesh, first.token, 1, "verified.test")).toBe(200);
  });
});


describe("a control plane that stops answering", () => {
  let mesh: TestGateway;
  beforeAll(async () => {
    mesh = await TestGateway.start(documents(), { isolates: 1, kvScript: HANGING_KV, vars: { CONFIG_POLL_INTERVAL_MS: String(POLL_MS), MESH_TRUST_DOMAIN: TRUST_DOMAIN } });
  });
  afterAll(() => mesh?.dispose());

  it("keeps verifying with the last good keys", async () => {
    const issuer = await mesh.durableObject("ISSUER", "issuer");
    const before = await issue(issuer);
    expect(await statusWith(mesh, before.token, 0)).toBe(200);
    const hang = documents([backend(HANG_MARKER, [upstream.url])]);
    expect((await mesh.admin("POST", "/config/apply", { documents: hang })).body).toMatchObject({ published: true });
    // Traffic until the isolate has seen a read of the snapshot fail (2 s without an answer), every request served.
    const statuses: (number | string)[] = [];
    let lastError: string | null = null;
    for (let i = 0; i < 100 && !lastError; i++) {
      statuses.push(await statusWith(mesh, before.token, 0));
      lastError = (await mesh.admin<{ isolate: { controlPlane: { lastError: string | null } } }>("GET", "/status")).body.isolate.controlPlane.lastError;
      await sleep(100);
    }
    expect(lastError).toContain("no answer within");
    // The bundle in hand stays, for cached and new tokens alike.
    const after = await issue(issuer);
    expect(after.kid).toBe(before.kid);
    statuses.push(...(await Promise.all([before.token, after.token].map((token) => statusWith(mesh, token, 0)))));
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
  });
});
