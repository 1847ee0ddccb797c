/**
 * The hostile-token catalogue of issue 7, against the verifier alone: every token here differs from
 * a valid one in one way, and each is refused with its own stable reason.
 */
import { createHmac } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { encode } from "../../../common/identity/base64url.ts";
import { Verifier } from "../../../common/identity/verify.ts";
import { AUDIENCE, b64, bundleOf, claims, ISSUER, makeKey, signParts, TRUST_DOMAIN, validToken, type TestKey } from "../../support/tokens.ts";

const NOW_S = 1_800_000_000;
let es: TestKey;
let ed: TestKey;
let verifier: Verifier;

beforeAll(async () => {
  [es, ed] = await Promise.all([makeKey("ES256"), makeKey("EdDSA")]);
  verifier = new Verifier({ issuer: ISSUER, audience: AUDIENCE, trustDomain: TRUST_DOMAIN, now: () => NOW_S * 1000 });
  verifier.keys.update(bundleOf([es, ed]));
});

const reasonOf = async (token: string) => {
  const result = await verifier.verify(token);
  return result.ok ? "ok" : result.reason;
};
const header = (extra: object = {}, key = es) => ({ alg: key.alg, kid: key.kid, typ: "JWT", ...extra });
/** A token whose signature part is replaced. */
const withSignature = (token: string, signature: Uint8Array | string) =>
  `${token.slice(0, token.lastIndexOf(".") + 1)}${typeof signature === "string" ? signature : encode(signature)}`;

describe("valid tokens pass", () => {
  it("ES256 and EdDSA", async () => {
    expect(await reasonOf(await validToken(es, NOW_S))).toBe("ok");
    expect(await reasonOf(await validToken(ed, NOW_S))).toBe("ok");
  });
});

describe("algorithms", () => {
  it("alg none, with or without a signature", async () => {
    const unsigned = `${b64(JSON.stringify({ alg: "none", kid: es.kid }))}.${b64(JSON.stringify(claims(NOW_S)))}.`;
    expect(await reasonOf(unsigned)).toBe("alg_not_allowed");
    expect(await reasonOf(`${unsigned}AAAA`)).toBe("alg_not_allowed");
    expect(await reasonOf(await signParts(es, header({ alg: "None" }), claims(NOW_S)))).toBe("alg_not_allowed");
  });

  it("key confusion: HS256 signed with the public key as the HMAC secret", async () => {
    const input = `${b64(JSON.stringify(header({ alg: "HS256" })))}.${b64(JSON.stringify(claims(NOW_S)))}`;
    for (const secret of [JSON.stringify(es.publicJwk), es.publicJwk.x]) {
      const mac = createHmac("sha256", secret).update(input).digest();
      expect(await reasonOf(`${input}.${encode(mac)}`)).toBe("alg_not_allowed");
    }
  });

  it("other algorithms and spellings", async () => {
    for (const alg of ["RS256", "ES384", "es256", "PS256", "HS512", "Ed25519", ""]) {
      expect(await reasonOf(await signParts(es, header({ alg }), claims(NOW_S)))).toBe("alg_not_allowed");
    }
    expect(await reasonOf(await signParts(es, { kid: es.kid }, claims(NOW_S)))).toBe("alg_not_allowed");
  });

  it("an algorithm that does not fit the key the kid names", async () => {
    // Signed by the EdDSA key but labelled ES256 with the EdDSA key's kid, and the other way round.
    expect(await reasonOf(await signParts(ed, { alg: "ES256", kid: ed.kid }, claims(NOW_S)))).toBe("key_mismatch");
    expect(await reasonOf(await signParts(es, { alg: "EdDSA", kid: es.kid }, claims(NOW_S)))).toBe("key_mismatch");
  });
});

describe("header parameters", () => {
  it("embedded keys and key URLs: jwk, jku, x5u, x5c", async () => {
    const cases: [string, unknown][] = [
      ["jwk", es.publicJwk],
      ["jku", "https://attacker.example/jwks.json"],
      ["x5u", "https://attacker.example/cert.pem"],
      ["x5c", ["MIIB"]],
      ["x5t", "abc"],
    ];
    for (const [name, value] of cases) {
      const result = await verifier.verify(await signParts(es, header({ [name]: value }), claims(NOW_S)));
      expect(result).toEqual({ ok: false, reason: "header_not_allowed", message: `the token's header has a parameter other than alg, kid and typ (${name})` });
    }
  });

  it("crit and b64 (unencoded payloads), cty (nested tokens), anything unknown", async () => {
    for (const extra of [{ crit: ["b64"], b64: false }, { b64: true }, { crit: ["exp"] }, { cty: "JWT" }, { zip: "DEF" }, { foo: 1 }, { __proto__x: 1 }]) {
      expect(await reasonOf(await signParts(es, header(extra), claims(NOW_S)))).toBe("header_not_allowed");
    }
    expect(await reasonOf(await signParts(es, `{"alg":"ES256","kid":"${es.kid}","__proto__":{"alg":"none"}}`, claims(NOW_S)))).toBe("header_not_allowed");
  });

  it("typ other than JWT or JOSE", async () => {
    expect(await reasonOf(await signParts(es, header({ typ: "at+jwt" }), claims(NOW_S)))).toBe("invalid_typ");
    expect(await reasonOf(await signParts(es, header({ typ: "JOSE" }), claims(NOW_S)))).toBe("ok");
  });

  it("kid injection: paths, SQL, URLs, oversize; a well-formed unknown kid", async () => {
    for (const kid of ["../../../../dev/null", "' OR '1'='1", "https://attacker.example/key", "a".repeat(129), "", "kid\u0000", 42]) {
      expect(await reasonOf(await signParts(es, header({ kid }), claims(NOW_S)))).toBe("invalid_kid");
    }
    expect(await reasonOf(await signParts(es, { alg: "ES256" }, claims(NOW_S)))).toBe("missing_kid");
    expect(await reasonOf(await signParts(es, header({ kid: "not-a-known-key" }), claims(NOW_S)))).toBe("unknown_kid");
  });
});

describe("signatures", () => {
  it("ECDSA r = s = 0 (psychic signatures), and r = 0 or s = 0 alone", async () => {
    const token = await validToken(es, NOW_S);
    expect(await reasonOf(withSignature(token, new Uint8Array(64)))).toBe("bad_signature");
    const rZero = new Uint8Array(64).fill(1, 32);
    const sZero = new Uint8Array(64).fill(1, 0, 32);
    expect(await reasonOf(withSignature(token, rZero))).toBe("bad_signature");
    expect(await reasonOf(withSignature(token, sZero))).toBe("bad_signature");
    expect(await reasonOf(withSignature(await validToken(ed, NOW_S), new Uint8Array(64)))).toBe("bad_signature");
  });

  it("stripped signatures", async () => {
    const token = await validToken(es, NOW_S);
    const input = token.slice(0, token.lastIndexOf("."));
    expect(await reasonOf(`${input}.`)).toBe("missing_signature");
    expect(await reasonOf(input)).toBe("malformed");
  });

  it("a tampered payload, another token's signature, a DER-encoded or truncated signature", async () => {
    const token = await validToken(es, NOW_S);
    const [h, , s] = token.split(".");
    expect(await reasonOf(`${h}.${b64(JSON.stringify(claims(NOW_S, { sub: `spiffe://${TRUST_DOMAIN}/ns/default/sa/admin` })))}.${s}`)).toBe("bad_signature");
    const other = await validToken(es, NOW_S, { jti: "t2" });
    expect(await reasonOf(withSignature(token, other.split(".")[2]!))).toBe("bad_signature");
    expect(await reasonOf(withSignature(token, new Uint8Array(71).fill(0x30)))).toBe("bad_signature");
    expect(await reasonOf(withSignature(token, new Uint8Array(32).fill(7)))).toBe("bad_signature");
  });
});

describe("JSON", () => {
  it("duplicate keys in the header or the payload, also in another spelling", async () => {
    const payload = JSON.stringify(claims(NOW_S));
    expect(await reasonOf(await signParts(es, `{"alg":"none","alg":"ES256","kid":"${es.kid}"}`, payload))).toBe("duplicate_key");
    expect(await reasonOf(await signParts(es, header(), `${payload.slice(0, -1)},"sub":"spiffe://${TRUST_DOMAIN}/ns/default/sa/admin"}`))).toBe("duplicate_key");
    expect(await reasonOf(await signParts(es, header(), `${payload.slice(0, -1)},"s\\u0075b":"x"}`))).toBe("duplicate_key");
    expect(await reasonOf(await signParts(es, header(), `{"x":{"a":1,"a":2},${payload.slice(1)}`))).toBe("duplicate_key");
  });

  it("not an object, not JSON, not UTF-8, a byte-order mark", async () => {
    const payload = JSON.stringify(claims(NOW_S));
    expect(await reasonOf(await signParts(es, header(), "[1,2]"))).toBe("invalid_json");
    expect(await reasonOf(await signParts(es, header(), `"${await validToken(es, NOW_S)}"`))).toBe("invalid_json");
    expect(await reasonOf(await signParts(es, header(), `${payload} x`))).toBe("invalid_json");
    expect(await reasonOf(await signParts(es, header(), `{'sub':1}`))).toBe("invalid_json");
    expect(await reasonOf(await signParts(es, `\ufeff${JSON.stringify(header())}`, payload))).toBe("invalid_json");
    const input = `${encode(new Uint8Array([0x7b, 0xff, 0x7d]))}.${b64(payload)}`;
    expect(await reasonOf(`${input}.${encode(new Uint8Array(64))}`)).toBe("invalid_json");
  });

  it("nesting past the bound", async () => {
    expect(await reasonOf(await signParts(es, header(), claims(NOW_S, { x: [[[[1]]]] })))).toBe("too_deeply_nested");
    expect(await reasonOf(await signParts(es, header(), claims(NOW_S, { x: { y: [1] } })))).toBe("ok");
  });
});

describe("encoding and form", () => {
  it("non-canonical base64url: padding, the standard alphabet, stray bits, whitespace", async () => {
    const token = await validToken(es, NOW_S);
    const [h, p, s] = token.split(".") as [string, string, string];
    const variants = [`${h}=.${p}.${s}`, `${h}.${p}==.${s}`, `${h}.${p}.${s}=`, ` ${h}.${p}.${s}`, `${h}.${p}.${s}\n`, `${h}.${p.slice(0, 10)} ${p.slice(10)}.${s}`];
    for (const variant of variants) expect(await reasonOf(variant)).toBe("non_canonical_encoding");
    // The signature's last character carries 4 padding bits (86 characters for 64 bytes): set one.
    const last = s.at(-1)!;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const stray = alphabet[alphabet.indexOf(last) | 1]!;
    expect(stray).not.toBe(last);
    expect(await reasonOf(`${h}.${p}.${s.slice(0, -1)}${stray}`)).toBe("non_canonical_encoding");
    const standard = `${h}.${p}.${s.replaceAll("-", "+").replaceAll("_", "/")}`;
    if (standard !== token) expect(await reasonOf(standard)).toBe("non_canonical_encoding");
  });

  it("oversized tokens are refused before any parsing", async () => {
    const big = await validToken(es, NOW_S, { pad: "x".repeat(5000) });
    expect(await reasonOf(big)).toBe("token_too_large");
  });

  it("JWE (five parts) instead of JWS, and other shapes", async () => {
    const jwe = `${b64(JSON.stringify({ alg: "dir", enc: "A256GCM" }))}..${b64("iv")}.${b64("ciphertext")}.${b64("tag")}`;
    expect(await reasonOf(jwe)).toBe("jwe_not_accepted");
    for (const shape of ["", ".", "..", "a", "a.b.c.d", "..sig"]) expect(await reasonOf(shape)).toBe("malformed");
  });
});
