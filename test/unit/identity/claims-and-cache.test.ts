/**
 * The JWT-SVID claims (issuer, audience, subject, times with the stated skew), the cache of verified
 * tokens (dropped with their key), and the rate-limited bundle refresh on an unknown kid, on a clock
 * the test moves.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Verifier, type VerifierOptions } from "../../../common/identity/verify.ts";
import { AUDIENCE, bundleOf, ISSUER, makeKey, TRUST_DOMAIN, validToken, type TestKey } from "../../support/tokens.ts";

const NOW_S = 1_800_000_000;
let key: TestKey;
let other: TestKey;

beforeAll(async () => {
  [key, other] = await Promise.all([makeKey(), makeKey()]);
});

function verifierAt(clock: { ms: number }, options: Partial<VerifierOptions> = {}, keys = [key]) {
  const verifier = new Verifier({ issuer: ISSUER, audience: AUDIENCE, trustDomain: TRUST_DOMAIN, now: () => clock.ms, ...options });
  verifier.keys.update(bundleOf(keys));
  return verifier;
}

const reasonOf = async (verifier: Verifier, token: string) => {
  const result = await verifier.verify(token);
  return result.ok ? "ok" : result.reason;
};

describe("claims", () => {
  const verifier = () => verifierAt({ ms: NOW_S * 1000 });

  it("each required claim missing", async () => {
    for (const claim of ["iss", "aud", "sub", "exp", "iat"]) {
      const result = await verifier().verify(await validToken(key, NOW_S, { [claim]: undefined }));
      expect(result).toEqual({ ok: false, reason: "missing_claim", message: `the token lacks a required claim (${claim})` });
    }
    expect(await reasonOf(verifier(), await validToken(key, NOW_S, { jti: undefined }))).toBe("ok");
  });

  it("claims of the wrong type", async () => {
    for (const [claim, value] of [["exp", String(NOW_S + 60)], ["iat", null], ["iss", 1], ["sub", ["x"]], ["aud", 7], ["nbf", "0"], ["jti", 5], ["exp", -1]] as const) {
      expect(await reasonOf(verifier(), await validToken(key, NOW_S, { [claim]: value })), claim).toBe("invalid_claim");
    }
  });

  it("issuer and audience are exact", async () => {
    for (const iss of [`${ISSUER}/`, ISSUER.toUpperCase(), "https://mesh.test", `${ISSUER} `]) {
      expect(await reasonOf(verifier(), await validToken(key, NOW_S, { iss }))).toBe("wrong_issuer");
    }
    for (const aud of [`${AUDIENCE}/`, "spiffe://mesh.test/ns/default/sa/other", [AUDIENCE, "spiffe://mesh.test/ns/default/sa/other"], [], [[AUDIENCE]]]) {
      expect(await reasonOf(verifier(), await validToken(key, NOW_S, { aud }))).toBe("wrong_audience");
    }
    expect(await reasonOf(verifier(), await validToken(key, NOW_S, { aud: [AUDIENCE] }))).toBe("ok");
  });

  it("the subject is a SPIFFE ID of the trust domain, in its one spelling", async () => {
    const bad = [
      "spiffe://other.test/ns/default/sa/productpage",
      "SPIFFE://mesh.test/ns/default/sa/productpage",
      "spiffe://Mesh.test/ns/default/sa/productpage",
      "spiffe://mesh.test:443/ns/default/sa/productpage",
      "spiffe://user@mesh.test/ns/default/sa/productpage",
      "spiffe://mesh.test/ns/default/sa/productpage/",
      "spiffe://mesh.test/ns/default/sa/productpage/x",
      "spiffe://mesh.test/ns/../sa/productpage",
      "spiffe://mesh.test/ns//sa/productpage",
      "spiffe://mesh.test/ns/default/sa/product%70age",
      "spiffe://mesh.test/ns/default/sa/productpage?x",
      "spiffe://mesh.test/sa/productpage/ns/default",
      "spiffe://mesh.test/ns/default",
      "productpage",
    ];
    for (const sub of bad) expect(await reasonOf(verifier(), await validToken(key, NOW_S, { sub })), sub).toBe("invalid_subject");
    const result = await verifier().verify(await validToken(key, NOW_S, { sub: "spiffe://mesh.test/ns/shop/sa/cart_v2.api" }));
    expect(result.ok && result.token.subject).toEqual({ id: "spiffe://mesh.test/ns/shop/sa/cart_v2.api", trustDomain: "mesh.test", namespace: "shop", service: "cart_v2.api" });
  });

  it("times: expired, issued in the future, not yet valid, each within the 60 s skew or past it", async () => {
    const v = verifier();
    expect(await reasonOf(v, await validToken(key, NOW_S - 400, { exp: NOW_S - 59 }))).toBe("ok");
    expect(await reasonOf(v, await validToken(key, NOW_S - 400, { exp: NOW_S - 60 }))).toBe("expired");
    expect(await reasonOf(v, await validToken(key, NOW_S + 60))).toBe("ok");
    expect(await reasonOf(v, await validToken(key, NOW_S + 61))).toBe("issued_in_future");
    expect(await reasonOf(v, await validToken(key, NOW_S, { nbf: NOW_S + 60 }))).toBe("ok");
    expect(await reasonOf(v, await validToken(key, NOW_S, { nbf: NOW_S + 61 }))).toBe("not_yet_valid");
  });

  it("lifetimes: over the maximum refused, exp not after iat refused", async () => {
    const v = verifierAt({ ms: NOW_S * 1000 }, { maxLifetimeS: 600 });
    expect(await reasonOf(v, await validToken(key, NOW_S, { exp: NOW_S + 600 }))).toBe("ok");
    expect(await reasonOf(v, await validToken(key, NOW_S, { exp: NOW_S + 601 }))).toBe("lifetime_too_long");
    expect(await reasonOf(verifier(), await validToken(key, NOW_S, { exp: NOW_S + 3601 }))).toBe("lifetime_too_long");
    expect(await reasonOf(v, await validToken(key, NOW_S, { exp: NOW_S }))).toBe("invalid_claim");
  });
});

describe("the verified-token cache", () => {
  it("a second presentation is answered from the cache, synchronously, until the token expires", async () => {
    const clock = { ms: NOW_S * 1000 };
    const v = verifierAt(clock);
    const token = await validToken(key, NOW_S, { exp: NOW_S + 300 });
    expect(v.cached(token)).toBeUndefined();
    expect((await v.verify(token)).ok).toBe(true);
    expect(v.cached(token)).toMatchObject({ ok: true, token: { kid: key.kid, acceptedUntil: (NOW_S + 360) * 1000 } });
    clock.ms = (NOW_S + 360) * 1000;
    expect(v.cached(token)).toBeUndefined();
    expect(await reasonOf(v, token)).toBe("expired");
  });

  it("is dropped once the token's key leaves the bundle (revocation), kept while it stays", async () => {
    const v = verifierAt({ ms: NOW_S * 1000 }, {}, [key, other]);
    const token = await validToken(key, NOW_S);
    await v.verify(token);
    v.keys.update(bundleOf([key], 2));
    expect(v.cached(token)?.ok).toBe(true);
    v.keys.update(bundleOf([other], 3));
    expect(v.cached(token)).toBeUndefined();
    expect(await reasonOf(v, token)).toBe("unknown_kid");
  });

  it("is dropped when the token's kid comes to name other key material (an issuer that reuses kids)", async () => {
    const v = verifierAt({ ms: NOW_S * 1000 });
    const token = await validToken(key, NOW_S);
    expect(await reasonOf(v, token)).toBe("ok");
    // The key is replaced under the same kid: its tokens were never signed by what the kid names now.
    const replacement: TestKey = { ...other, kid: key.kid, publicJwk: { ...other.publicJwk, kid: key.kid } };
    v.keys.update(bundleOf([replacement], 2));
    expect(v.cached(token)).toBeUndefined();
    expect(await reasonOf(v, token)).toBe("bad_signature");
    // The same material under a new sequence keeps the verdict.
    const kept = verifierAt({ ms: NOW_S * 1000 });
    await kept.verify(token);
    kept.keys.update(bundleOf([key], 2));
    expect(kept.cached(token)?.ok).toBe(true);
  });

  it("is bounded: the least recently used token is verified again", async () => {
    const v = verifierAt({ ms: NOW_S * 1000 }, { cacheSize: 2 });
    const tokens = await Promise.all([1, 2, 3].map((n) => validToken(key, NOW_S, { jti: `t${n}` })));
    for (const token of tokens) await v.verify(token);
    expect(tokens.map((token) => v.cached(token)?.ok)).toEqual([undefined, true, true]);
  });

  it("never caches a refusal into an acceptance", async () => {
    const v = verifierAt({ ms: NOW_S * 1000 });
    const forged = `${(await validToken(key, NOW_S)).slice(0, -4)}AAAA`;
    expect(await reasonOf(v, forged)).toBe("bad_signature");
    expect(v.cached(forged)).toBeUndefined();
  });
});

describe("bundle updates and refresh on an unknown kid", () => {
  it("an older or equal bundle sequence never replaces a newer one", () => {
    const v = verifierAt({ ms: 0 }, {}, []);
    expect(v.keys.update(bundleOf([key], 5))).toBe(true);
    expect(v.keys.update(bundleOf([other], 5))).toBe(false);
    expect(v.keys.update(bundleOf([other], 4))).toBe(false);
    expect(v.keys.has(key.kid)).toBe(true);
  });

  it("a pinned key's bundle (sequence 0) is taken again when its keys change, and keeps its caches when they do not", async () => {
    const v = new Verifier({ issuer: ISSUER, audience: AUDIENCE, trustDomain: TRUST_DOMAIN, now: () => NOW_S * 1000 });
    expect(v.keys.update(bundleOf([key], 0))).toBe(true);
    const token = await validToken(key, NOW_S);
    expect(await reasonOf(v, token)).toBe("ok");
    const version = v.keys.version;
    // A refresh that reads the same pin again changes nothing.
    expect(v.keys.update(bundleOf([key], 0))).toBe(false);
    expect(v.keys.version).toBe(version);
    expect(v.cached(token)?.ok).toBe(true);
    // A new deploy pins another key, again at sequence 0: verifiers take it without a restart.
    expect(v.keys.update(bundleOf([other], 0))).toBe(true);
    expect(v.keys.has(other.kid) && !v.keys.has(key.kid)).toBe(true);
    expect(v.cached(token)).toBeUndefined();
    // The issuer's first bundle replaces any pin, and no pin replaces it.
    expect(v.keys.update(bundleOf([key], 1_800_000_000_000))).toBe(true);
    expect(v.keys.update(bundleOf([other], 0))).toBe(false);
  });

  it("keys with private parts, of another type or alg, or with a bad kid are left out of the bundle", () => {
    const v = verifierAt({ ms: 0 }, {}, []);
    const { publicJwk: good } = key;
    v.keys.update({
      keys: [
        { ...good, kid: "private", d: "secret" },
        { ...good, kid: "rsa", kty: "RSA" },
        { ...good, kid: "hs", alg: "HS256" },
        { ...good, kid: "curve", crv: "P-384" },
        { ...good, kid: "../x" },
        { ...good, kid: "enc", use: "enc" },
        good,
      ] as never,
      spiffe_sequence: 2,
      spiffe_refresh_hint: 60,
    });
    expect(["private", "rsa", "hs", "curve", "../x", "enc"].filter((kid) => v.keys.has(kid))).toEqual([]);
    expect(v.keys.has(good.kid)).toBe(true);
  });

  it("an unknown kid waits for one refresh, shared by concurrent requests, at most one per interval", async () => {
    const clock = { ms: NOW_S * 1000 };
    let refreshes = 0;
    let sequence = 1;
    const v: Verifier = verifierAt(clock, {
      refreshIntervalMs: 10_000,
      refresh: async () => {
        refreshes++;
        v.keys.update(bundleOf([key, other], ++sequence));
      },
    });
    const tokens = await Promise.all([1, 2, 3].map((n) => validToken(other, NOW_S, { jti: `u${n}` })));
    expect(await Promise.all(tokens.map((token) => reasonOf(v, token)))).toEqual(["ok", "ok", "ok"]);
    expect(refreshes).toBe(1);
    // A kid the refresh does not bring: refused; the next refresh only once the interval has passed.
    const stranger = await validToken(await makeKey(), NOW_S);
    clock.ms += 5_000;
    expect(await reasonOf(v, stranger)).toBe("unknown_kid");
    expect(refreshes).toBe(1);
    clock.ms += 5_000;
    expect(await reasonOf(v, stranger)).toBe("unknown_kid");
    expect(await reasonOf(v, stranger)).toBe("unknown_kid");
    expect(refreshes).toBe(2);
  });

  it("a failing refresh keeps the keys it had", async () => {
    const v = verifierAt({ ms: NOW_S * 1000 }, { refresh: () => Promise.reject(new Error("control plane down")) });
    expect(await reasonOf(v, await validToken(other, NOW_S))).toBe("unknown_kid");
    expect(await reasonOf(v, await validToken(key, NOW_S))).toBe("ok");
  });
});
