/**
 * The one normal form of a request path, shared by the gateway (stages/normalize-path.ts: routes,
 * authorization and the upstream all see it) and the policy schemas (a pattern not in this form could
 * never match). Takes the URL parser's pathname ("." and ".." resolved, also as %2e; "\" as "/"):
 * repeated slashes merged (Envoy's merge_slashes, its advice for an edge that routes or authorizes by
 * path: nginx and many frameworks read "//admin" as "/admin"), percent-encoded unreserved characters
 * decoded (RFC 3986 §6.2.2.2: "/%61pi" is "/api"), other escapes in upper case. Undefined for an
 * encoded slash or backslash: an upstream that decodes it would see another path (Istio's advice).
 */
const REPEATED_SLASHES = /\/{2,}/g;
const ENCODED_SEPARATOR = /%(2f|5c)/i;
const ESCAPE = /%([0-9a-fA-F]{2})/g;
const UNRESERVED = /[A-Za-z0-9\-._~]/;

export function normalPath(pathname: string): string | undefined {
  return decodedPath(pathname.includes("//") ? pathname.replace(REPEATED_SLASHES, "/") : pathname);
}

/** The normal form's escapes alone, slashes as they are: for the admin API, whose paths hold SPIFFE IDs ("spiffe://…"). */
export function decodedPath(pathname: string): string | undefined {
  if (!pathname.includes("%")) return pathname;
  if (ENCODED_SEPARATOR.test(pathname)) return undefined;
  return pathname.replace(ESCAPE, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : escape.toUpperCase();
  });
}
