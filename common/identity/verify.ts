/**
 * Verifies workload tokens (JWT-SVIDs) for one audience, as both the gateway and the client module
 * do. The profile, strictly: ES256 or EdDSA only (never `none`, never HS*: a public key is never an
 * HMAC secret); a header of alg, kid and typ only; exact `iss` and one `aud`; `exp`, `iat` and `sub`
 * required, `sub` a SPIFFE ID of the trust domain; a stated clock skew; `iat` in the future and
 * lifetimes over the maximum refused (decode checks in token.ts come first).
 *
 * End users' tokens (RequestAuthentication) go through the same checks with their own options: the
 * END_USER_PROFILE (RSA and ES384 too), any of the configured audiences among the token's, any `sub`
 * string, a longer maximum lifetime (`endUserVerifierOptions`).
 *
 * A verified token is cached until it expires (bounded LRU), so the steady state pays a map lookup,
 * not a signature check; a cached result is dropped once its key leaves the bundle (rotation or
 * revocation). An unknown kid triggers at most one bundle refresh per interval, shared by the
 * requests that wait for it.
 */
import { compactVerify } from "jose";
import { LruMap } from "../lru.ts";
import { KeySet, type VerifyKey } from "./bundle.ts";
import { signatureLength, type PublicJwk } from "./jwk-set.ts";
import { REFUSALS, type Refusal } from "./reasons.ts";
import { parseSpiffeId, type SpiffeId } from "./spiffe-id.ts";
import { decodeToken, END_USER_PROFILE, WORKLOAD_PROFILE, type Decoded, type DecodedToken, type TokenProfile } from "./token.ts";

/** Envoy's jwt_authn default (`clock_skew_seconds`). */
export const DEFAULT_CLOCK_SKEW_S = 60;
/** The longest lifetime (exp - iat) accepted; the mesh issues 5-minute tokens by default. */
export const DEFAULT_MAX_LIFETIME_S = 3600;
/** End users' tokens: identity providers issue ID and access tokens for up to a day. */
export const END_USER_MAX_LIFETIME_S = 86_400;
/** A `sub` of an end-user token is any string, of a sane length. */
const MAX_END_USER_SUBJECT = 1024;
const DEFAULT_CACHE_SIZE = 10_000;
/** At most one bundle refresh per this long on unknown kids (the gateway: MESH_KID_REFRESH_INTERVAL_MS). */
export const DEFAULT_REFRESH_INTERVAL_MS = 10_000;

export interface VerifierOptions<S = SpiffeId> {
  /** Exact `iss`. */
  issuer: string;
  /**
   * A string: exact `aud`, the only audience the token may name (JWT-SVID). An array: the token's
   * `aud` (a string or an array) must name at least one of them (OpenID Connect, Istio).
   */
  audience: string | readonly string[];
  /** `sub` must be a SPIFFE ID in this trust domain (unless `subject` says otherwise). */
  trustDomain?: string;
  /** What a `sub` is taken as, or undefined to refuse it (invalid_subject); default: a SPIFFE ID of trustDomain. */
  subject?: (sub: string) => S | undefined;
  /** The token's form before any key is looked at (default: workload tokens). */
  profile?: TokenProfile;
  clockSkewS?: number;
  maxLifetimeS?: number;
  cacheSize?: number;
  /** Fetches a newer bundle into `keys`, on an unknown kid; should bound its own time. */
  refresh?: () => Promise<void>;
  refreshIntervalMs?: number;
  /** The clock, epoch ms (tests move it). */
  now?: () => number;
}

export interface VerifiedToken<S = SpiffeId> {
  readonly subject: S;
  /** The verified payload. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Epoch ms after which the token is no longer accepted (exp plus the skew). */
  readonly acceptedUntil: number;
  readonly jti: string | undefined;
  readonly kid: string;
}

export type Verification<S = SpiffeId> = { ok: true; token: VerifiedToken<S> } | { ok: false; reason: Refusal; message: string };

interface Cached<S> {
  /** The answer to a hit, made once: the steady state allocates nothing per request. */
  verified: { ok: true; token: VerifiedToken<S> };
  /** The key that verified the signature (KeySet.keyOf), and the bundle version it was last seen in. */
  key: object;
  keysVersion: number;
}

export const refusal = (reason: Refusal, detail?: string): { ok: false; reason: Refusal; message: string } => ({
  ok: false,
  reason,
  message: detail ? `${REFUSALS[reason]} (${detail})` : REFUSALS[reason],
});

/** Options for end users' tokens from `issuer` for any of `audiences`: the same checks, the end-user profile. */
export function endUserVerifierOptions(issuer: string, audiences: readonly string[]): VerifierOptions<string> {
  return {
    issuer,
    audience: audiences,
    subject: (sub) => (sub !== "" && sub.length <= MAX_END_USER_SUBJECT ? sub : undefined),
    profile: END_USER_PROFILE,
    maxLifetimeS: END_USER_MAX_LIFETIME_S,
  };
}

export class Verifier<S = SpiffeId> {
  readonly keys: KeySet<VerifyKey>;
  private readonly cache: LruMap<string, Cached<S>>;
  private readonly skewMs: number;
  private readonly maxLifetimeS: number;
  private readonly now: () => number;
  private readonly profile: TokenProfile;
  private readonly subjectOf: (sub: string) => S | undefined;
  private refreshing: Promise<void> | undefined;
  private lastRefreshAt = -Infinity;

  constructor(
    private readonly options: VerifierOptions<S>,
    keys: KeySet<VerifyKey> = new KeySet(),
  ) {
    this.keys = keys;
    this.cache = new LruMap(options.cacheSize ?? DEFAULT_CACHE_SIZE);
    this.skewMs = (options.clockSkewS ?? DEFAULT_CLOCK_SKEW_S) * 1000;
    this.maxLifetimeS = options.maxLifetimeS ?? DEFAULT_MAX_LIFETIME_S;
    this.now = options.now ?? Date.now;
    this.profile = options.profile ?? WORKLOAD_PROFILE;
    const { trustDomain } = options;
    this.subjectOf =
      options.subject ??
      ((sub) => {
        const id = parseSpiffeId(sub);
        return (id && id.trustDomain === trustDomain ? id : undefined) as S | undefined;
      });
  }

  /** A cached verification, synchronously: the hot path awaits nothing when the token was seen before. */
  cached(token: string): Verification<S> | undefined {
    const hit = this.cache.get(token);
    if (!hit) return undefined;
    const { verified } = hit;
    if (this.now() >= verified.token.acceptedUntil) return undefined;
    if (hit.keysVersion !== this.keys.version) {
      // The bundle changed since: the token's key may have been revoked, rotated out, or its kid
      // given to other key material (then the signature was never checked against what the kid names now).
      if (this.keys.keyOf(verified.token.kid) !== hit.key) return undefined;
      hit.keysVersion = this.keys.version;
    }
    return verified;
  }

  /** `decoded`: the token already taken apart by the caller (with this verifier's profile), to do it once. */
  async verify(token: string, decoded?: Decoded): Promise<Verification<S>> {
    const cached = this.cached(token);
    if (cached) return cached;
    decoded ??= decodeToken(token, this.profile);
    if (!decoded.ok) return refusal(decoded.reason, decoded.detail);
    const claims = this.checkClaims(decoded.token);
    if (!claims.ok) return claims;
    const signed = await this.checkSignature(token, decoded.token);
    if (!signed.ok) return signed;
    // The bundle may have changed during the check: the version is the one the key was read in, so
    // the next hit compares the key with the bundle of then.
    this.cache.set(token, { verified: claims, key: signed.key, keysVersion: signed.keysVersion });
    return claims;
  }

  private checkClaims({ payload, kid }: DecodedToken): Verification<S> {
    const { iss, aud, sub, exp, iat, nbf, jti } = payload;
    for (const [name, value] of [["iss", iss], ["aud", aud], ["sub", sub], ["exp", exp], ["iat", iat]] as const) {
      if (value === undefined) return refusal("missing_claim", name);
    }
    if (typeof iss !== "string") return refusal("invalid_claim", "iss");
    if (typeof sub !== "string") return refusal("invalid_claim", "sub");
    if (!isNumericDate(exp)) return refusal("invalid_claim", "exp");
    if (!isNumericDate(iat)) return refusal("invalid_claim", "iat");
    if (nbf !== undefined && !isNumericDate(nbf)) return refusal("invalid_claim", "nbf");
    if (jti !== undefined && typeof jti !== "string") return refusal("invalid_claim", "jti");
    if (typeof aud !== "string" && !Array.isArray(aud)) return refusal("invalid_claim", "aud");
    if (iss !== this.options.issuer) return refusal("wrong_issuer");
    const expected = this.options.audience;
    if (typeof expected === "string") {
      // JWT-SVID: one audience. An array is accepted only when it names exactly the expected one.
      const audience = typeof aud === "string" ? aud : aud.length === 1 ? aud[0] : undefined;
      if (audience !== expected) return refusal("wrong_audience", Array.isArray(aud) && aud.length > 1 ? "more than one audience" : undefined);
    } else if (!(typeof aud === "string" ? expected.includes(aud) : aud.some((one) => typeof one === "string" && expected.includes(one)))) {
      return refusal("wrong_audience");
    }
    const subject = this.subjectOf(sub);
    if (subject === undefined) return refusal("invalid_subject");
    const now = this.now();
    if (exp * 1000 + this.skewMs <= now) return refusal("expired");
    if (iat * 1000 - this.skewMs > now) return refusal("issued_in_future");
    if (nbf !== undefined && nbf * 1000 - this.skewMs > now) return refusal("not_yet_valid");
    if (exp <= iat) return refusal("invalid_claim", "exp is not after iat");
    if (exp - iat > this.maxLifetimeS) return refusal("lifetime_too_long", `at most ${this.maxLifetimeS} s`);
    return { ok: true, token: { subject, claims: payload, acceptedUntil: exp * 1000 + this.skewMs, jti, kid } };
  }

  /** The key that verified the signature (and the bundle version it was read in), or the refusal. */
  private async checkSignature(token: string, decoded: DecodedToken): Promise<{ ok: true; key: object; keysVersion: number } | ReturnType<typeof refusal>> {
    let entry = this.keys.get(decoded.kid);
    if (!entry && (await this.refreshOnce())) entry = this.keys.get(decoded.kid);
    if (!entry) return refusal("unknown_kid");
    const key = this.keys.keyOf(decoded.kid)!;
    const keysVersion = this.keys.version;
    if (entry.key.alg !== decoded.alg) return refusal("key_mismatch");
    const { signature } = decoded;
    // ES256 and EdDSA sign with 64 raw bytes (ECDSA: r || s), ES384 with 96, RSA with the modulus's
    // length. For ECDSA, r = 0 or s = 0 is never valid: refused before WebCrypto sees it
    // (CVE-2022-21449 accepted r = s = 0 in Java).
    const length = signatureLength(entry.key as unknown as PublicJwk);
    if (signature.length !== length) return refusal("bad_signature", "wrong length");
    const half = length / 2;
    if ((decoded.alg === "ES256" || decoded.alg === "ES384") && (isZero(signature, 0, half) || isZero(signature, half, length))) return refusal("bad_signature", "r or s is zero");
    try {
      await compactVerify(token, await entry.cryptoKey(), { algorithms: [decoded.alg] });
    } catch {
      return refusal("bad_signature");
    }
    return { ok: true, key, keysVersion };
  }

  /** One refresh at a time and at most one per interval; whether one ran (so a second lookup may find the kid). */
  private async refreshOnce(): Promise<boolean> {
    const refresh = this.options.refresh;
    if (!refresh) return false;
    if (!this.refreshing) {
      const now = this.now();
      if (now - this.lastRefreshAt < (this.options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS)) return false;
      this.lastRefreshAt = now;
      this.refreshing = refresh()
        .catch(() => undefined)
        .finally(() => (this.refreshing = undefined));
    }
    await this.refreshing;
    return true;
  }
}

const isNumericDate = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value) && value >= 0;

function isZero(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}
