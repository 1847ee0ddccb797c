/**
 * A webhook the control plane posts alerts to: any path and query, but its host passes the endpoint
 * checks (endpoint-url.ts: no metadata, link-local, unspecified addresses in any spelling, no
 * credentials in the URL), and it is https:// unless it stays on the machine (loopback).
 */
import { checkEndpointUrl, isLoopback } from "./endpoint-url.ts";

export function checkNotificationUrl(input: string): string | undefined {
  if (input.length > 2048) return "must be at most 2048 characters";
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return 'must be an https:// URL such as "https://alerts.example/hook"';
  }
  if (/[\u0000-\u0020\u007f]/.test(input)) return "must not contain spaces or control characters";
  if (url.username || url.password || /^[a-z]+:\/\/[^/?#]*@/i.test(input)) return 'must not contain a user name or password ("user:pass@")';
  const origin = checkEndpointUrl(`${url.protocol}//${url.host}`);
  if (!origin.ok) return origin.message;
  if (url.protocol !== "https:" && !isLoopback(origin.host)) return "must be https:// (alerts leave the machine); http:// only to loopback";
  return undefined;
}
