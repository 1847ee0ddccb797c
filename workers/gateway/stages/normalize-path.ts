/**
 * Path normalization, so that routes match the path exactly as the upstream will see it. The URL
 * parser has already resolved "." and ".." segments (also as %2e) and turned "\" into "/"; here,
 * percent-encoded unreserved characters are decoded (RFC 3986 §6.2.2.2: "/%61pi" is "/api"), and an
 * encoded slash or backslash is refused: an upstream that decodes it would see a different path from
 * the one the route matched (Istio's advice). "//" is kept, and matched, as is.
 */
import type { Stage } from "../context.ts";
import { MeshError } from "../errors.ts";

const ENCODED_SEPARATOR = /%(2f|5c)/i;
const ESCAPE = /%([0-9a-fA-F]{2})/g;
const UNRESERVED = /[A-Za-z0-9\-._~]/;

export function normalizePathname(pathname: string): string {
  if (!pathname.includes("%")) return pathname;
  if (ENCODED_SEPARATOR.test(pathname)) {
    throw new MeshError("invalid_request", "the path contains an encoded slash or backslash (%2F, %5C)");
  }
  return pathname.replace(ESCAPE, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : escape.toUpperCase();
  });
}

export const normalizePath: Stage = {
  request(x) {
    x.upstream.path = normalizePathname(x.upstream.path);
    return undefined;
  },
};
