/**
 * The end user, from a JWT that one of the rule's RequestAuthentications accepts (Istio's
 * RequestAuthentication). A token that is sent and fails is refused: 401 `unauthenticated`, the
 * refusal code in the message, `WWW-Authenticate: Bearer error="invalid_token"`, and the upstream
 * sees nothing. No token leaves no end user (an AuthorizationPolicy may require one). The same
 * verification rules as workload tokens (common/identity/), cached until the token expires.
 *
 * Claim headers (outputClaimToHeaders) are removed from every request first, token or not: only the
 * mesh sets them. The token itself is removed before the upstream unless the rule forwards it.
 * An unknown kid is refused at once; it may ask the control plane for the issuer's keys again, in
 * the background (identity/end-users.ts).
 */
import { REFUSALS, type Refusal } from "../../../common/identity/reasons.ts";
import { queryNameTest } from "../../../common/identity/request-token.ts";
import { decodeToken, END_USER_PROFILE } from "../../../common/identity/token.ts";
import type { Verification } from "../../../common/identity/verify.ts";
import type { Exchange, Stage } from "../context.ts";
import { MeshError } from "../errors.ts";
import type { EndUserKeys } from "../identity/end-users.ts";
import type { CompiledJwtRule, EndUserAuthentication, TokenLocation } from "../table/end-user-authn.ts";

/** A claim header's longest value; a longer one is left out rather than cut. */
const MAX_CLAIM_HEADER = 4096;
/** Refusals about the request rather than the token: RFC 6750's invalid_request. */
const REQUEST_ERRORS = new Set<Refusal>(["multiple_tokens", "token_in_query"]);
/** Control characters (tab aside), and lone surrogates (in u mode a pair is one code point outside the range). */
const UNSENDABLE = /[\u0000-\u0008\u000a-\u001f\u007f]|[\ud800-\udfff]/u;
/** RFC 6750's query parameter, where Envoy and Istio look for end users' tokens by default: refused, never read. */
const carriesAccessToken = queryNameTest(["access_token"]);

const refused = (reason: Refusal, message: string = REFUSALS[reason]) =>
  new MeshError("unauthenticated", `${reason}: ${message}`, {
    headers: { "www-authenticate": `Bearer error="${REQUEST_ERRORS.has(reason) ? "invalid_request" : "invalid_token"}"` },
  });

interface Found {
  token: string;
  /** The rules that looked where it was, and the places it was found. */
  rules: CompiledJwtRule[];
  at: TokenLocation[];
}

/**
 * Cookie pairs: split at ";" (RFC 6265) and at ",", which older parsers (Python's SimpleCookie among
 * them) also take for a separator: a token hidden behind a comma would otherwise go upstream unverified.
 */
const COOKIE_SEPARATOR = /[;,]/;

/** Whether a cookie pair ("name=value") is the named cookie. */
const isCookie = (part: string, name: string) => {
  const eq = part.indexOf("=");
  return eq > 0 && part.slice(0, eq).trim() === name;
};

function cookieValues(header: string | null, name: string): string[] {
  if (!header) return [];
  const values: string[] = [];
  for (const part of header.split(COOKIE_SEPARATOR)) if (isCookie(part, name)) values.push(part.slice(part.indexOf("=") + 1).trim());
  return values;
}

/** The one token the rules find (or none); several different ones, or two in one header, are refused. */
function findToken(authn: EndUserAuthentication, headers: Headers): Found | Refusal | undefined {
  let found: Found | undefined;
  for (const rule of authn.rules) {
    for (const location of rule.locations) {
      let values: string[];
      if (location.cookie !== undefined) values = cookieValues(headers.get("cookie"), location.cookie);
      else {
        const value = headers.get(location.header!);
        if (value === null) continue;
        const prefix = location.prefix!;
        // Repeated headers arrive joined with ", "; a JWS never holds a comma.
        if (value.includes(",") && (prefix === "" || value.toLowerCase().includes(prefix))) return "multiple_tokens";
        if (prefix !== "" && !(value.length >= prefix.length && value.slice(0, prefix.length).toLowerCase() === prefix)) {
          // The scheme with another separator ("Bearer\t…", "Bearer: …") is a token many origins
          // would still read: refused, never passed on unverified. Another scheme (Basic) is not ours.
          const scheme = prefix.trimEnd();
          if (scheme !== "" && scheme !== prefix && value.slice(0, scheme.length).toLowerCase() === scheme) return "malformed";
          continue;
        }
        values = [value.slice(prefix.length).trim()];
      }
      for (const token of values) {
        if (token === "") return "malformed";
        if (found && found.token !== token) return "multiple_tokens";
        found ??= { token, rules: [], at: [] };
        if (!found.rules.includes(rule)) found.rules.push(rule);
        if (!found.at.includes(location)) found.at.push(location);
      }
    }
  }
  return found;
}

function claimOf(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  if (path in claims) return claims[path];
  let value: unknown = claims;
  for (const part of path.split(".")) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** A claim as a header value: scalars as text, arrays of scalars joined by ","; undefined for anything else or unsafe. */
function headerValue(value: unknown): string | undefined {
  const scalar = (one: unknown) => (typeof one === "string" || typeof one === "number" || typeof one === "boolean" ? String(one) : undefined);
  let text: string | undefined;
  if (Array.isArray(value)) {
    const parts = value.map(scalar);
    text = parts.includes(undefined) ? undefined : parts.join(",");
  } else text = scalar(value);
  // workerd sends header values as UTF-8, as Envoy does claims.
  // A lone surrogate has no UTF-8 form: it would go out as invalid bytes.
  if (text === undefined || text.length > MAX_CLAIM_HEADER || UNSENDABLE.test(text)) return undefined;
  return text;
}

function removeToken(x: Exchange, found: Found): void {
  const headers = x.upstream.headers;
  for (const location of found.at) {
    if (location.header !== undefined) headers.delete(location.header);
    else {
      const kept = (headers.get("cookie") ?? "").split(COOKIE_SEPARATOR).filter((part) => !isCookie(part, location.cookie!));
      if (kept.some((part) => part.trim())) headers.set("cookie", kept.map((part) => part.trim()).join("; "));
      else headers.delete("cookie");
    }
  }
}

function accept(x: Exchange, rule: CompiledJwtRule, found: Found, claims: Readonly<Record<string, unknown>>): undefined {
  x.endUser = { principal: `${String(claims.iss)}/${String(claims.sub)}`, claims };
  x.outcome.endUser = { principal: x.endUser.principal };
  if (!rule.forward) removeToken(x, found);
  for (const { header, claim } of rule.claimHeaders) {
    const value = headerValue(claimOf(claims, claim));
    if (value !== undefined) x.upstream.headers.set(header, value);
  }
  return undefined;
}

export const requestAuthentication = (keys: EndUserKeys): Stage => ({
  request(x) {
    const authn = x.route.rule.endUsers;
    if (!authn) return undefined;
    for (const header of authn.outputHeaders) x.upstream.headers.delete(header);
    const refuse = (reason: Refusal, message?: string) => {
      x.outcome.endUser = { refused: reason };
      return refused(reason, message);
    };
    if (carriesAccessToken(x.url.search)) throw refuse("token_in_query");
    const found = findToken(authn, x.headers);
    if (!found) return undefined;
    if (typeof found === "string") throw refuse(found);
    const { token } = found;
    // The steady state: a token one of the rules has verified before, no promise to wait for.
    for (const rule of found.rules) {
      const hit = rule.verifier.cached(token);
      if (hit?.ok) return accept(x, rule, found, hit.token.claims);
    }
    const decoded = decodeToken(token, END_USER_PROFILE);
    if (!decoded.ok) throw refuse(decoded.reason, decoded.detail ? `${REFUSALS[decoded.reason]} (${decoded.detail})` : undefined);
    const { iss } = decoded.token.payload;
    if (iss === undefined) throw refuse("missing_claim", `${REFUSALS.missing_claim} (iss)`);
    // The rule for the token's issuer (unverified yet: only to choose the keys), as Istio chooses.
    const candidates = found.rules.filter((rule) => rule.issuer === iss);
    if (!candidates.length) throw refuse("wrong_issuer");
    return (async () => {
      let failed: Extract<Verification<string>, { ok: false }> | undefined;
      for (const rule of candidates) {
        if (rule.jwksUri !== undefined && rule.verifier.keys.size === 0) {
          failed ??= { ok: false, reason: "no_jwks", message: REFUSALS.no_jwks };
          const asked = keys.requestRefresh(x.env, rule.jwksUri);
          if (asked) x.ctx.waitUntil(asked);
          continue;
        }
        const result = await rule.verifier.verify(token, decoded);
        if (result.ok) return accept(x, rule, found, result.token.claims);
        if (result.reason === "unknown_kid" && rule.jwksUri !== undefined) {
          const asked = keys.requestRefresh(x.env, rule.jwksUri);
          if (asked) x.ctx.waitUntil(asked);
        }
        // The first refusal is the one told: with one rule per issuer, the only one.
        failed ??= result;
      }
      throw refuse(failed!.reason, failed!.message);
    })();
  },
});
