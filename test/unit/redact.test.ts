/** The admin API's redaction of secrets in what non-admins read (workers/admin/redact.ts). */
import { describe, expect, it } from "vitest";
import { redactSecrets, redactUrl } from "../../workers/admin/redact.ts";

describe("redactSecrets", () => {
  it("keeps a webhook's origin only, wherever the key sits, and a diff's values of such a path", () => {
    const hook = "https://hooks.example.com/T0/B0/secret";
    const redacted = "https://hooks.example.com/<redacted>";
    expect(redactSecrets({ documents: [{ spec: { notify: { webhook: hook } } }], n: 1 })).toEqual({ documents: [{ spec: { notify: { webhook: redacted } } }], n: 1 });
    expect(redactSecrets([{ path: "spec.notify.webhook", from: hook, to: "http://127.0.0.1:9/x?k=secret" }])).toEqual([{ path: "spec.notify.webhook", from: redacted, to: "http://127.0.0.1:9/<redacted>" }]);
    expect(redactSecrets({ path: "spec.notify", from: { webhook: hook }, to: null })).toEqual({ path: "spec.notify", from: { webhook: redacted }, to: null });
    expect(redactSecrets({ webhook: null, path: "spec.backend", from: "a", to: "b" })).toEqual({ webhook: null, path: "spec.backend", from: "a", to: "b" });
    expect(redactUrl("not a url")).toBe("<redacted>");
  });
});
