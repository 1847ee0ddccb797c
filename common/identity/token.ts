/**
 * Takes a compact JWS apart without trusting any of it: size, shape, canonical encoding, strict JSON
 * (no duplicate keys, bounded nesting) and a header of nothing but alg, kid and typ. Everything that
 * can be refused without a key is refused here, before any key or signature is looked at.
 */
import { decodeCanonical } from "./base64url.ts";
import { ALGORITHMS, KID } from "./bundle.ts";
import { END_USER_ALGORITHMS, END_USER_KID, type JwtAlgorithm } from "./jwk-set.ts";
import type { Refusal } from "./reasons.ts";
import { checkStrictJson } from "./strict-json.ts";

/** Bytes; Envoy's jwt_authn has no default cap, SPIRE's JWT-SVIDs are well under 1 KiB. */
export const MAX_TOKEN_LENGTH = 4096;
/** JSON levels in the header and payload: a JWT-SVID's claims are flat, a few levels are plenty. */
const MAX_JSON_DEPTH = 4;

/** What a kind of token may look like before any key is looked at. */
export interface TokenProfile {
  readonly algorithms: readonly JwtAlgorithm[];
  readonly maxLength: number;
  readonly kid: RegExp;
  /** Accepted values of `typ`, when the header has one. */
  readonly types: readonly string[];
}

/** Workload tokens (JWT-SVIDs). */
export const WORKLOAD_PROFILE: TokenProfile = { algorithms: ALGORITHMS, maxLength: MAX_TOKEN_LENGTH, kid: KID, types: ["JWT", "JOSE"] };

/**
 * End users' tokens from an outside issuer: RSA too, larger (groups and scopes in the claims), kids
 * as issuers spell them, and RFC 9068's `at+jwt` for access tokens. The rest is the same profile.
 */
export const END_USER_PROFILE: TokenProfile = {
  algorithms: END_USER_ALGORITHMS,
  maxLength: 8192,
  kid: END_USER_KID,
  types: ["JWT", "JOSE", "at+jwt", "application/at+jwt"],
};

export interface DecodedToken {
  alg: JwtAlgorithm;
  kid: string;
  payload: Record<string, unknown>;
  /** The raw signature, for checks before WebCrypto sees it. */
  signature: Uint8Array;
}

export type Decoded = { ok: true; token: DecodedToken } | { ok: false; reason: Refusal; detail?: string };

const HEADER_PARAMETERS = new Set(["alg", "kid", "typ"]);
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const refuse = (reason: Refusal, detail?: string): Decoded => ({ ok: false, reason, ...(detail !== undefined && { detail }) });

/** A JSON object from one base64url part, or why not. */
function jsonPart(part: string): { ok: true; value: Record<string, unknown> } | { ok: false; reason: Refusal } {
  const bytes = decodeCanonical(part);
  if (!bytes) return { ok: false, reason: "non_canonical_encoding" };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, reason: "invalid_json" };
  }
  const problem = checkStrictJson(text, MAX_JSON_DEPTH);
  if (problem) return { ok: false, reason: problem };
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, reason: "invalid_json" };
  return { ok: true, value: value as Record<string, unknown> };
}

export function decodeToken(token: string, profile: TokenProfile = WORKLOAD_PROFILE): Decoded {
  if (token.length > profile.maxLength) return refuse("token_too_large");
  const first = token.indexOf(".");
  const second = first < 0 ? -1 : token.indexOf(".", first + 1);
  if (second < 0) return refuse("malformed");
  if (token.indexOf(".", second + 1) >= 0) {
    // Five parts is a JWE's compact form; anything else is no JOSE form at all.
    return token.split(".").length === 5 ? refuse("jwe_not_accepted") : refuse("malformed");
  }
  const headerPart = token.slice(0, first);
  const payloadPart = token.slice(first + 1, second);
  const signaturePart = token.slice(second + 1);
  if (!headerPart || !payloadPart) return refuse("malformed");

  const header = jsonPart(headerPart);
  if (!header.ok) return refuse(header.reason, "header");
  for (const name of Object.keys(header.value)) if (!HEADER_PARAMETERS.has(name)) return refuse("header_not_allowed", name);
  const { alg, kid, typ } = header.value;
  if (!profile.algorithms.includes(alg as JwtAlgorithm)) return refuse("alg_not_allowed", typeof alg === "string" ? alg : undefined);
  if (typ !== undefined && !profile.types.includes(typ as string)) return refuse("invalid_typ");
  if (kid === undefined) return refuse("missing_kid");
  if (typeof kid !== "string" || !profile.kid.test(kid)) return refuse("invalid_kid");
  // After the header, so that `alg: none` with its empty signature is named for what it is.
  if (!signaturePart) return refuse("missing_signature");

  const payload = jsonPart(payloadPart);
  if (!payload.ok) return refuse(payload.reason, "payload");
  const signature = decodeCanonical(signaturePart);
  if (!signature) return refuse("non_canonical_encoding", "signature");
  return { ok: true, token: { alg: alg as JwtAlgorithm, kid, payload: payload.value, signature } };
}
