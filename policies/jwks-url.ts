/**
 * Which URLs may be a RequestAuthentication's `jwksUri`: the control plane fetches them (never the
 * request path), so they get the endpoint URLs' host checks (endpoint-url.ts: no cloud metadata
 * service, link-local, unspecified, multicast or reserved address, in any spelling). https only: the
 * keys decide who is let in, and plain http lets anyone on the path swap them. The one exception is
 * a loopback host (127.0.0.0/8, ::1, localhost), for local runs and tests, where no network is crossed.
 * Path and query are allowed (issuers publish at /.well-known/jwks.json, /oauth2/v3/certs...);
 * credentials and fragments are not.
 */
import { hostOf, unsafeHostReason, type EndpointHost } from "./endpoint-url.ts";

const isLoopback = (host: EndpointHost) =>
  host.kind === "ipv4" ? host.value >> 24n === 127n : host.kind === "ipv6" ? host.value === 1n : host.text === "localhost";

/** Why `input` may not be a jwksUri, or undefined when it may. */
export function checkJwksUrl(input: string): string | undefined {
  if (/[\u0000-\u0020\u007f]/.test(input)) return "must not contain spaces or control characters";
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return 'must be an https:// URL such as "https://issuer.example/.well-known/jwks.json"';
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return 'must be an https:// URL such as "https://issuer.example/.well-known/jwks.json"';
  const host = hostOf(url.hostname);
  if (!host) return "must have a valid host";
  const unsafe = unsafeHostReason(host);
  if (unsafe) return `must not point at ${unsafe}`;
  if (url.protocol === "http:" && !isLoopback(host)) return "must use https (http only to a loopback address such as 127.0.0.1, for local runs)";
  if (url.username || url.password) return "must not contain a user name or password";
  if (url.hash || input.includes("#")) return "must not have a fragment";
  return undefined;
}
