/**
 * Webhook URLs are credentials in practice (a Slack or PagerDuty hook URL is its own secret), so, as
 * Alertmanager shows them as `<secret>`, the admin API shows a viewer or an operator only their origin:
 * "https://hooks.example.com/<redacted>". Admins see them whole: they apply configuration, and
 * re-applying what they read must give back the same objectives. Applied to every JSON answer to a
 * non-admin (the configuration, its versions and diffs, the audit log, the SLO status), by key, so a
 * new route that returns documents is covered without naming it.
 */
import { redactUrl } from "../../common/redact-url.ts";

const SECRET_KEYS = new Set(["webhook"]);

export { redactUrl };

/** A copy of `value` with every string under a secret key (and a diff's from/to of such a path) redacted. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (typeof value !== "object" || value === null) return value;
  const record = value as Record<string, unknown>;
  // A config diff's field change: { path: "spec.notify.webhook", from, to }.
  const secretPath = typeof record.path === "string" && SECRET_KEYS.has(record.path.slice(record.path.lastIndexOf(".") + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(record)) {
    const secret = SECRET_KEYS.has(key) || (secretPath && (key === "from" || key === "to"));
    copy[key] = secret && typeof item === "string" ? redactUrl(item) : redactSecrets(item);
  }
  return copy;
}

/** The answer as a non-admin may see it: unchanged unless its JSON mentions a secret key. */
export async function redactedAnswer(response: Response): Promise<Response> {
  if (!response.headers.get("content-type")?.includes("application/json")) return response;
  const text = await response.clone().text();
  if (![...SECRET_KEYS].some((key) => text.includes(`"${key}"`))) return response;
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  return new Response(JSON.stringify(redactSecrets(JSON.parse(text))), { status: response.status, statusText: response.statusText, headers });
}
