/**
 * Peer authentication at the gateway, against real upstreams: STRICT / PERMISSIVE / DISABLE per
 * backend, workload tokens in their own header (verified against the pinned key's bundle: no
 * control plane here), Worker callers identified by their service binding's props, and hostile
 * tokens, each refused with 401 before anything reaches the upstream, recorded in the outcome, and
 * counted in edgemesh_unauthenticated_total by its code (the catalogue runs through gateways with
 * the control plane, which holds the metrics).
 */
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { encode } from "../../common/identity/base64url.ts";
import { REFUSALS, type Refusal } from "../../common/identity/reasons.ts";
import { ADMIN_TOKEN, TestGateway } from "../support/gateway.ts";
import { backend, route, simpleRoute } from "../support/policies.ts";
import { b64, CALLER, claims, makeKey, signParts, TRUST_DOMAIN, validToken, type TestKey } from "../support/tokens.ts";
import { Upstream, type Echo } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

const HEADER = "edgemesh-workload-token";
let strict: Upstream;
let permissive: Upstream;
let disabled: Upstream;
let key: TestKey;
let mesh: TestGateway;
const nowS = () => Math.floor(Date.now() / 1000);

const withMode = (name: string, url: string, mode: string) => ({ ...backend(name, [url]), spec: { endpoints: [{ url }], peerAuthentication: { mode } } });

beforeAll(async () => {
  [strict, permissive, disabled] = await Promise.all([Upstream.start("strict"), Upstream.start("permissive"), Upstream.start("disabled")]);
  key = await makeKey();
  const policies = [
    withMode("strict", strict.url, "STRICT"),
    backend("permissive", [permissive.url]),
    withMode("disabled", disabled.url, "DISABLE"),
    simpleRoute("strict", "strict.test", "strict"),
    simpleRoute("permissive", "permissive.test", "permissive"),
    simpleRoute("disabled", "disabled.test", "disabled"),
    route("split", { hostnames: ["split.test"], rules: [{ backendRefs: [{ name: "permissive", weight: 99 }, { name: "strict", weight: 1 }] }] }),
  ];
  mesh = await TestGateway.start(policies, {
    vars: { MESH_TRUST_DOMAIN: TRUST_DOMAIN, MESH_ISSUER_KEY: JSON.stringify(key.privateJwk) },
    callers: [
      { name: "productpage", props: { service: "productpage" } },
      { name: "shop-cart", props: { service: "cart", namespace: "shop" } },
      { name: "bad-props", props: { service: "not a service" } },
      { name: "no-props" },
    ],
  });
});

afterAll(async () => {
  await mesh?.dispose();
  await Promise.all([strict, permissive, disabled].map((upstream) => upstream?.close()));
});

beforeEach(() => {
  for (const upstream of [strict, permissive, disabled]) upstream.received.length = 0;
});

async function call(host: string, headers: Record<string, string> = {}, path = "/", gateway = mesh) {
  const response = await gateway.fetch(`http://${host}${path}`, { headers });
  const text = await response.text();
  const outcome = await gateway.outcomeOf(response.headers.get("x-request-id")!);
  return { status: response.status, headers: response.headers, body: text.startsWith("{") ? JSON.parse(text) : text, outcome };
}

describe("STRICT", () => {
  it("refuses a caller without identity: 401 unauthenticated, the upstream sees nothing", async () => {
    const { status, headers, body, outcome } = await call("strict.test");
    expect(status).toBe(401);
    expect(body.error).toMatchObject({ reason: "unauthenticated", message: `missing_token: no workload token was sent: this backend requires a mesh identity (send a workload token in ${HEADER})` });
    expect(headers.get("www-authenticate")).toBe('Edgemesh-Workload-Token error="missing_token"');
    expect(outcome).toMatchObject({ status: 401, reason: "unauthenticated", source: { refused: "missing_token" } });
    expect(strict.received).toHaveLength(0);
  });

  it("lets a valid token in, records the caller, and forwards neither the token nor anything but the end user's Authorization", async () => {
    const token = await validToken(key, nowS());
    const { status, body, outcome } = await call("strict.test", { [HEADER]: token, authorization: "Bearer end-user-token" });
    expect(status).toBe(200);
    const echo = body as Echo;
    expect(echo.headers[HEADER]).toBeUndefined();
    expect(echo.headers.authorization).toBe("Bearer end-user-token");
    expect(outcome.source).toEqual({ id: CALLER, via: "token" });
    // The same token again: from the verified-token cache, same answer.
    expect((await call("strict.test", { [HEADER]: token })).outcome.source).toEqual({ id: CALLER, via: "token" });
  });
});

/**
 * The catalogue runs through gateways with the control plane, which holds the metrics: one pinning
 * the ES256 key above, one pinning an EdDSA key (for key confusion against that key). Their trust
 * bundles come from the Issuer, which signs with the pinned key alone.
 */
describe("the hostile-token catalogue (STRICT), counted", () => {
  let counted: TestGateway;
  let countedEd: TestGateway;
  let edKey: TestKey;

  beforeAll(async () => {
    edKey = await makeKey("EdDSA");
    const policies = [withMode("strict", strict.url, "STRICT"), simpleRoute("strict", "strict.test", "strict")];
    const pinning = (pinned: TestKey) => ({ isolates: 1, vars: { MESH_TRUST_DOMAIN: TRUST_DOMAIN, MESH_ISSUER_KEY: JSON.stringify(pinned.privateJwk), METRICS_FLUSH_INTERVAL_MS: "200" } });
    [counted, countedEd] = await Promise.all([TestGateway.start(policies, pinning(key)), TestGateway.start(policies, pinning(edKey))]);
  });

  afterAll(async () => {
    await Promise.all([counted, countedEd].map((gateway) => gateway?.dispose()));
  });

  interface Hostile {
    label: string;
    reason: Refusal;
    token: string;
    path?: string;
    /** What the message names after the reason's text, in parentheses (the claim, the header parameter). */
    detail?: string;
  }

  /** A token whose signature part is replaced. */
  const withSignature = (token: string, signature: Uint8Array | string) =>
    `${token.slice(0, token.lastIndexOf(".") + 1)}${typeof signature === "string" ? signature : encode(signature)}`;

  /** An HS256 token whose HMAC secret is `secret` (a public key, for key confusion). */
  const hmacToken = (header: object, payload: string, secret: Uint8Array | string) => {
    const input = `${b64(JSON.stringify(header))}.${b64(payload)}`;
    return `${input}.${encode(createHmac("sha256", secret).update(input).digest())}`;
  };

  /** edgemesh_unauthenticated_total of `route` at /admin/metrics, by code. */
  async function countsByCode(gateway: TestGateway, route = "strict"): Promise<Record<string, number>> {
    const response = await gateway.fetch("http://admin.test/admin/metrics", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(response.status).toBe(200);
    const counts: Record<string, number> = {};
    for (const line of (await response.text()).split("\n")) {
      const series = /^edgemesh_unauthenticated_total\{(.*)\} (\S+)$/.exec(line);
      if (!series) continue;
      const labels = Object.fromEntries([...series[1]!.matchAll(/(\w+)="([^"]*)"/g)].map(([, name, value]) => [name, value]));
      if (labels.route === route) counts[labels.code!] = (counts[labels.code!] ?? 0) + Number(series[2]);
    }
    return counts;
  }

  const tally = (codes: string[]) => {
    const counts: Record<string, number> = {};
    for (const code of codes) counts[code] = (counts[code] ?? 0) + 1;
    return counts;
  };

  /** Sends the case; its 401, reason, WWW-Authenticate and outcome name the case's refusal code. */
  async function refused(gateway: TestGateway, { label, reason, token, path, detail }: Hostile): Promise<void> {
    const { status, headers, body, outcome } = await call("strict.test", { [HEADER]: token }, path, gateway);
    const message = String(body.error?.message);
    expect({ status, reason: body.error?.reason, code: message.slice(0, message.indexOf(":")), authenticate: headers.get("www-authenticate"), source: outcome.source }, label).toEqual({
      status: 401,
      reason: "unauthenticated",
      code: reason,
      authenticate: `Edgemesh-Workload-Token error="${reason}"`,
      source: { refused: reason },
    });
    if (detail !== undefined) expect(message, label).toBe(`${reason}: ${REFUSALS[reason]} (${detail})`);
  }

  it("refuses each hostile token with its reason, lets none reach the upstream, and counts each by its code", async () => {
    const now = nowS();
    const h = { alg: "ES256", kid: key.kid, typ: "JWT" };
    const valid = await validToken(key, now);
    const payload = JSON.stringify(claims(now));
    const other = await makeKey();
    // The trust bundles hold the pinned keys: a valid token of each passes (and nothing else below does).
    expect((await call("strict.test", { [HEADER]: valid }, "/", counted)).status).toBe(200);
    expect((await call("strict.test", { [HEADER]: await validToken(edKey, now) }, "/", countedEd)).status).toBe(200);
    expect(strict.received).toHaveLength(2);
    strict.received.length = 0;
    expect([await countsByCode(counted), await countsByCode(countedEd)]).toEqual([{}, {}]);

    const cases: Hostile[] = [
      { label: "alg none", reason: "alg_not_allowed", token: `${b64(JSON.stringify({ alg: "none", kid: key.kid }))}.${b64(payload)}.` },
      { label: "alg HS256 on the ES256 key's kid", reason: "alg_not_allowed", token: await signParts(key, { ...h, alg: "HS256" }, payload), detail: "HS256" },
      { label: "key confusion: alg EdDSA on the ES256 key's kid", reason: "key_mismatch", token: await signParts(key, { ...h, alg: "EdDSA" }, payload) },
      { label: "embedded jwk", reason: "header_not_allowed", token: await signParts(key, { ...h, jwk: key.publicJwk }, payload), detail: "jwk" },
      { label: "jku", reason: "header_not_allowed", token: await signParts(key, { ...h, jku: "https://attacker.example/jwks" }, payload), detail: "jku" },
      { label: "x5u", reason: "header_not_allowed", token: await signParts(key, { ...h, x5u: "https://attacker.example/cert" }, payload), detail: "x5u" },
      { label: "x5c", reason: "header_not_allowed", token: await signParts(key, { ...h, x5c: ["MIIB"] }, payload), detail: "x5c" },
      { label: "crit and b64 (an unencoded payload)", reason: "header_not_allowed", token: await signParts(key, { ...h, crit: ["b64"], b64: false }, payload) },
      // RFC 7519 §5.2: cty "JWT", the payload another (valid) token.
      { label: "a nested token (cty JWT)", reason: "header_not_allowed", token: await signParts(key, { ...h, cty: "JWT" }, valid), detail: "cty" },
      { label: "kid injection (a path)", reason: "invalid_kid", token: await signParts(key, { ...h, kid: "../../etc/passwd" }, payload) },
      { label: "a kid outside the bundle", reason: "unknown_kid", token: await validToken(other, now) },
      { label: "psychic signature: ECDSA r = s = 0", reason: "bad_signature", token: withSignature(valid, new Uint8Array(64)) },
      { label: "ECDSA r = 0 alone", reason: "bad_signature", token: withSignature(valid, new Uint8Array(64).fill(1, 32)) },
      { label: "ECDSA s = 0 alone", reason: "bad_signature", token: withSignature(valid, new Uint8Array(64).fill(1, 0, 32)) },
      { label: "a stripped signature", reason: "missing_signature", token: valid.slice(0, valid.lastIndexOf(".") + 1) },
      { label: "expired", reason: "expired", token: await validToken(key, now - 1000, { exp: now - 700 }) },
      { label: "issued in the future", reason: "issued_in_future", token: await validToken(key, now + 600) },
      { label: "no exp", reason: "missing_claim", token: await validToken(key, now, { exp: undefined }), detail: "exp" },
      { label: "no iat", reason: "missing_claim", token: await validToken(key, now, { iat: undefined }), detail: "iat" },
      { label: "no sub", reason: "missing_claim", token: await validToken(key, now, { sub: undefined }), detail: "sub" },
      { label: "another issuer", reason: "wrong_issuer", token: await validToken(key, now, { iss: `https://${TRUST_DOMAIN}` }) },
      { label: "a lifetime over the hour", reason: "lifetime_too_long", token: await validToken(key, now, { exp: now + 3601 }) },
      { label: "a duplicate sub", reason: "duplicate_key", token: await signParts(key, h, `${payload.slice(0, -1)},"sub":"spiffe://${TRUST_DOMAIN}/ns/default/sa/admin"}`) },
      { label: "padded base64url", reason: "non_canonical_encoding", token: `${valid}=` },
      { label: "oversized", reason: "token_too_large", token: await validToken(key, now, { pad: "x".repeat(5000) }) },
      { label: "JSON nested past the bound", reason: "too_deeply_nested", token: await signParts(key, h, claims(now, { x: [[[[[1]]]]] })) },
      { label: "JWE instead of JWS", reason: "jwe_not_accepted", token: `${b64('{"alg":"dir","enc":"A256GCM"}')}..aXY.Y2lwaGVy.dGFn` },
      { label: "another audience", reason: "wrong_audience", token: await validToken(key, now, { aud: `spiffe://${TRUST_DOMAIN}/ns/default/sa/reviews` }) },
      { label: "a subject of another trust domain", reason: "invalid_subject", token: await validToken(key, now, { sub: "spiffe://other.test/ns/default/sa/productpage" }) },
      { label: "two tokens in one header", reason: "multiple_tokens", token: `${valid}, ${valid}` },
      { label: "a token in the query", reason: "token_in_query", token: valid, path: `/?access_token=${valid}` },
    ];
    for (const hostile of cases) await refused(counted, hostile);
    // Two header lines, as a raw client sends them (fetch would join them first).
    const twice = await counted.raw("/", { host: "strict.test", [HEADER]: [valid, valid] as unknown as string });
    expect([twice.status, JSON.parse(twice.body).error.message]).toEqual([401, `multiple_tokens: ${REFUSALS.multiple_tokens}`]);
    expect((await counted.outcomeOf(twice.headers["x-request-id"] as string)).source).toEqual({ refused: "multiple_tokens" });

    // Key confusion against the EdDSA key: its public key as an HMAC secret, and the other curve's alg.
    const ed = { alg: "EdDSA", kid: edKey.kid, typ: "JWT" };
    const edCases: Hostile[] = [
      { label: "HS256, the Ed25519 public key's bytes as the secret", reason: "alg_not_allowed", token: hmacToken({ ...ed, alg: "HS256" }, payload, Buffer.from(edKey.publicJwk.x!, "base64url")), detail: "HS256" },
      { label: "HS256, the EdDSA key's JWK text as the secret", reason: "alg_not_allowed", token: hmacToken({ ...ed, alg: "HS256" }, payload, JSON.stringify(edKey.publicJwk)), detail: "HS256" },
      { label: "key confusion: alg ES256 on the EdDSA key's kid", reason: "key_mismatch", token: await signParts(edKey, { ...ed, alg: "ES256" }, payload) },
    ];
    for (const hostile of edCases) await refused(countedEd, hostile);
    expect(strict.received).toHaveLength(0);

    // Counted: each code's counter went up by the number of requests refused with it, and no other code's.
    const expected: [TestGateway, Record<string, number>][] = [
      [counted, tally([...cases.map((hostile) => hostile.reason), "multiple_tokens"])],
      [countedEd, tally(edCases.map((hostile) => hostile.reason))],
    ];
    for (const [gateway, counts] of expected) {
      const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
      let seen: Record<string, number> = {};
      await waitFor(`${total} refusals at /admin/metrics`, async () => {
        seen = await countsByCode(gateway);
        return Object.values(seen).reduce((sum, count) => sum + count, 0) >= total;
      }, { timeoutMs: 15_000, intervalMs: 100 }).catch((error: Error) => {
        throw new Error(`${error.message}; counted ${JSON.stringify(seen)}`);
      });
      expect(seen).toEqual(counts);
    }
  });
});

describe("PERMISSIVE (the default) and DISABLE", () => {
  it("PERMISSIVE lets an anonymous caller in, verifies a token when one is sent", async () => {
    const anonymous = await call("permissive.test");
    expect(anonymous.status).toBe(200);
    expect(anonymous.outcome.source).toBeUndefined();
    const verified = await call("permissive.test", { [HEADER]: await validToken(key, nowS()) });
    expect(verified.outcome.source).toEqual({ id: CALLER, via: "token" });
    const forged = await call("permissive.test", { [HEADER]: await validToken(key, nowS() - 1000, { exp: nowS() - 700 }) });
    expect([forged.status, forged.outcome.source]).toEqual([401, { refused: "expired" }]);
    expect(permissive.received).toHaveLength(2);
  });

  it("DISABLE checks nothing, and still never forwards the token", async () => {
    const { status, body, outcome } = await call("disabled.test", { [HEADER]: "not.a.token" });
    expect(status).toBe(200);
    expect((body as Echo).headers[HEADER]).toBeUndefined();
    expect(outcome.source).toBeUndefined();
  });

  it("a split over a STRICT and a PERMISSIVE backend requires identity for every request, whatever the draw", async () => {
    const statuses = await Promise.all(Array.from({ length: 20 }, () => call("split.test").then((r) => r.status)));
    expect(statuses).toEqual(Array(20).fill(401));
    expect((await call("split.test", { [HEADER]: await validToken(key, nowS()) })).status).toBe(200);
  });
});

describe("Worker callers, identified by their service binding's props", () => {
  const outcomeOf = async (response: Response) => {
    await response.arrayBuffer();
    return mesh.outcomeOf(response.headers.get("x-request-id")!);
  };

  it("a binding with props is that identity: STRICT lets it in without a token", async () => {
    const response = await mesh.fetchAs("productpage", "http://strict.test/");
    expect(response.status).toBe(200);
    expect((await outcomeOf(response)).source).toEqual({ id: `spiffe://${TRUST_DOMAIN}/ns/default/sa/productpage`, via: "binding" });
    const shop = await mesh.fetchAs("shop-cart", "http://strict.test/");
    expect((await outcomeOf(shop)).source).toEqual({ id: `spiffe://${TRUST_DOMAIN}/ns/shop/sa/cart`, via: "binding" });
  });

  it("refuses props that name no valid identity, a token on top of a binding identity, and a binding without props (STRICT)", async () => {
    const bad = await mesh.fetchAs("bad-props", "http://permissive.test/");
    expect([bad.status, (await outcomeOf(bad)).source]).toEqual([401, { refused: "invalid_binding_identity" }]);
    const both = await mesh.fetchAs("productpage", "http://strict.test/", { headers: { [HEADER]: await validToken(key, nowS()) } });
    expect([both.status, (await outcomeOf(both)).source]).toEqual([401, { refused: "multiple_identities" }]);
    const none = await mesh.fetchAs("no-props", "http://strict.test/");
    expect([none.status, (await outcomeOf(none)).source]).toEqual([401, { refused: "missing_token" }]);
    expect(strict.received).toHaveLength(0);
  });
});
