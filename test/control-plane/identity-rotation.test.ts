/**
 * Tokens the Issuer signs, verified by gateway isolates that learn its keys only from the snapshot:
 * a rotation with traffic flowing fails no request (the next key reaches every isolate before it
 * signs), and a KV namespace that stops answering leaves the last good keys in force.
 */
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
const documents = (extra: unknown[] = []) => [
  { ...backend("app", [upstream.url]), spec: { endpoints: [{ url: upstream.url }], peerAuthentication: { mode: "STRICT" } } },
  simpleRoute("app", "app.test", "app"),
  ...extra,
];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  upstream = await Upstream.start("app");
});
afterAll(() => upstream.close());

type Issuer = Awaited<ReturnType<TestGateway["durableObject"]>>;
const issue = (issuer: Issuer) => exchangedToken(issuer, CALLER);
const statusWith = async (mesh: TestGateway, token: string, isolate: number) => {
  const response = await mesh.fetch("http://app.test/", { headers: { [HEADER]: token } }, isolate);
  await response.arrayBuffer();
  return response.status;
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
  });
  afterAll(() => mesh?.dispose());

  it("fails no request: the next key is in every isolate's bundle before it signs", async () => {
    const issuer = await mesh.durableObject("ISSUER", "issuer");
    const first = await issue(issuer);
    expect(await statusWith(mesh, first.token, 0)).toBe(200);
    const [next] = ((await issuer.rotate!()) as SigningKeyInfo[]).filter((key) => key.state === "published");
    const statuses: number[] = [];
    const kids = new Set<string>();
    const seenAt = new Map<number, number>();
    // Traffic on both isolates with fresh tokens, until well after the next key took over.
    while (Date.now() < next!.activatesAt + 1_500) {
      const token = await issue(issuer);
      kids.add(token.kid);
      statuses.push(...(await Promise.all([0, 1].map((isolate) => statusWith(mesh, token.token, isolate)))));
      for (const isolate of [0, 1]) if (!seenAt.has(isolate) && (await kidsAt(mesh, isolate)).includes(next!.kid)) seenAt.set(isolate, Date.now());
      await sleep(50);
    }
    expect(kids).toEqual(new Set([first.kid, next!.kid]));
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    // Learnt from the snapshot, ahead of the switch (not from an unknown-kid refresh after it).
    for (const isolate of [0, 1]) expect(seenAt.get(isolate)).toBeLessThan(next!.activatesAt);
    // Tokens of the old key still verify until they expire.
    expect(await statusWith(mesh, first.token, 1)).toBe(200);
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
    const statuses: number[] = [];
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
