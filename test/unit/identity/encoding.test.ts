/** The pieces under the verifier: canonical base64url, strict JSON, SPIFFE IDs, where a token may travel. */
import { describe, expect, it } from "vitest";
import { decodeCanonical, encode } from "../../../common/identity/base64url.ts";
import { requestToken } from "../../../common/identity/request-token.ts";
import { parseSpiffeId, spiffeIdOf } from "../../../common/identity/spiffe-id.ts";
import { checkStrictJson } from "../../../common/identity/strict-json.ts";

describe("base64url", () => {
  it("round-trips every length and refuses every other spelling", () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      const text = encode(bytes);
      expect(Buffer.from(text, "base64url").equals(Buffer.from(bytes))).toBe(true);
      expect(decodeCanonical(text)).toEqual(bytes);
    }
    for (const text of ["QQ==", "QR", "Q", "QQ ", "Q+", "Q/", "QQ\n", "Ü"]) expect(decodeCanonical(text), text).toBeUndefined();
    expect(decodeCanonical("QQ")).toEqual(new Uint8Array([0x41]));
  });
});

describe("strict JSON", () => {
  it("takes what JSON.parse takes, unless a key repeats or it nests too deep", () => {
    for (const text of ['{"a":1,"b":[1,{"a":2}],"c":"\\u00e9\\n"}', "[]", "0", '"x"', " { } ", '{"a":-1.5e+3,"b":true,"c":null}']) {
      expect(checkStrictJson(text, 8), text).toBeUndefined();
    }
    for (const text of ['{"a":1,"a":1}', '{"a":1,"\\u0061":2}', '[{"k":1,"k":2}]']) expect(checkStrictJson(text, 8)).toBe("duplicate_key");
    for (const text of ["{", '{"a"}', "[1,]", '{"a":1,}', "01", "1.", "'x'", '"\u0001"', "tru", "nul", "{} {}", '"\\x"', "NaN"]) {
      expect(checkStrictJson(text, 8), text).toBe("invalid_json");
    }
    expect(checkStrictJson("[[[]]]", 2)).toBe("too_deeply_nested");
    expect(checkStrictJson("[[]]", 2)).toBeUndefined();
    expect(checkStrictJson("[".repeat(100_000), 4)).toBe("too_deeply_nested");
  });
});

describe("SPIFFE IDs", () => {
  it("parses the one form and builds it", () => {
    expect(parseSpiffeId("spiffe://example.org/ns/default/sa/ratings")).toEqual({ id: "spiffe://example.org/ns/default/sa/ratings", trustDomain: "example.org", namespace: "default", service: "ratings" });
    expect(spiffeIdOf("example.org", "shop", "cart")).toBe("spiffe://example.org/ns/shop/sa/cart");
    expect(() => spiffeIdOf("Example.org", "shop", "cart")).toThrow("not a valid SPIFFE ID");
    expect(parseSpiffeId(`spiffe://${"a".repeat(256)}/ns/a/sa/b`)).toBeUndefined();
    expect(parseSpiffeId(`spiffe://a/ns/a/sa/${"b".repeat(2100)}`)).toBeUndefined();
  });
});

describe("where the token travels", () => {
  const headers = (init: [string, string][]) => new Headers(init);

  it("one header, once; never in the query string", () => {
    expect(requestToken(headers([["edgemesh-workload-token", "a.b.c"]]), "")).toEqual({ ok: true, token: "a.b.c" });
    expect(requestToken(headers([]), "?page=2")).toEqual({ ok: true, token: undefined });
    expect(requestToken(headers([["edgemesh-workload-token", "a.b.c"], ["edgemesh-workload-token", "d.e.f"]]), "")).toEqual({ ok: false, reason: "multiple_tokens" });
    // Names are compared as the query's parser decodes them: a percent-escape anywhere in one is no way around.
    for (const search of ["?access_token=x", "?a=1&ACCESS_TOKEN=x", "?edgemesh-workload-token=x", "?access%5Ftoken=x", "?access_t%6Fken=x", "?%61ccess_%74oken=x", "?edgemesh-workload-t%6Fken=x", "?a=%25&ACCESS_T%4Fken=x"]) {
      expect(requestToken(headers([]), search), search).toEqual({ ok: false, reason: "token_in_query" });
    }
    expect(requestToken(headers([]), "?token=reset-link&tokens=1")).toEqual({ ok: true, token: undefined });
    expect(requestToken(headers([]), "?q=caf%C3%A9&to%6Bens=1")).toEqual({ ok: true, token: undefined });
  });
});
