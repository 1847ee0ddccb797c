/**
 * Rate-limit clientSelectors compiled to one function: does a rule apply to this request, and which
 * bucket does it count against? Every selector must match (Envoy Gateway's semantics); each Distinct
 * selector adds its value to the bucket key, so "per client IP" or "per user" are separate buckets.
 */
import { decodeJwt } from "jose";
import { compileRegex } from "../../../policies/regex.ts";
import type { ClientSelector } from "../../../policies/schema/index.ts";
import { fnv1a } from "../lb/hash.ts";
import { compileCidr } from "./cidr.ts";

/** The bucket key, or undefined when the rule does not apply to the request. */
export type KeyOf = (request: Request) => string | undefined;

type Part = (request: Request, claims: () => Record<string, unknown> | undefined) => string | false | undefined;

export function compileSelectors(selectors: readonly ClientSelector[] = []): KeyOf {
  const parts: Part[] = selectors.flatMap((selector) => [
    ...(selector.headers ?? []).map((header): Part => {
      const name = header.name.toLowerCase();
      if (header.type === "Distinct") return (request) => request.headers.get(name) ?? false;
      const pattern = header.type === "RegularExpression" ? compileRegex(header.value!) : undefined;
      return (request) => {
        const value = request.headers.get(name);
        const matches = value !== null && (pattern ? pattern.test(value) : value === header.value);
        return matches !== header.invert ? undefined : false;
      };
    }),
    ...(selector.sourceCIDR ? [sourcePart(selector.sourceCIDR)] : []),
    ...(selector.jwtClaims ?? []).map((claim): Part => (_request, claims) => {
      const value = claims()?.[claim.name];
      if (typeof value !== "string" && typeof value !== "number") return false;
      if (claim.type === "Distinct") return String(value);
      return String(value) === claim.value ? undefined : false;
    }),
  ]);
  // No selectors: one bucket for every request, with nothing to read or allocate per request.
  if (!parts.length) return () => "";
  return (request) => {
    let decoded: Record<string, unknown> | undefined | null = null;
    const claims = () => (decoded === null ? (decoded = bearerClaims(request)) : decoded);
    // Each value length-prefixed ("3:ann"): values are client input, so a separator could be sent
    // inside one (x="a|b", y="c" against x="a", y="b|c"); and a key so made always starts with a digit,
    // never with the "#" of a hashed one.
    let joined = "";
    for (const part of parts) {
      const result = part(request, claims);
      if (result === false) return undefined;
      if (result !== undefined) joined += `${result.length}:${result}`;
    }
    // Keys are client input: a long one is kept as its hash, so no client sets what the limiter stores.
    return joined.length <= MAX_KEY_LENGTH ? joined : `#${fnv1a(joined).toString(16)}:${fnv1a(joined, 0x2545f491).toString(16)}`;
  };
}

const MAX_KEY_LENGTH = 128;

function sourcePart(cidr: NonNullable<ClientSelector["sourceCIDR"]>): Part {
  const contains = compileCidr(cidr.value);
  return (request) => {
    const ip = request.headers.get("cf-connecting-ip");
    if (!ip || !contains(ip)) return false;
    return cidr.type === "Distinct" ? ip : undefined;
  };
}

/**
 * Claims of the bearer token, unverified: a forged token buys its sender a bucket of its own, exactly
 * as a forged header would, and no more. (Verified identity is the identity stage's job.)
 */
function bearerClaims(request: Request): Record<string, unknown> | undefined {
  const authorization = request.headers.get("authorization");
  if (!authorization?.startsWith("Bearer ") || authorization.length > 8192) return undefined;
  try {
    return decodeJwt(authorization.slice(7));
  } catch {
    return undefined;
  }
}
