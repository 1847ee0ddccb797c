/**
 * Encryption in transit is the default: a static endpoint that is plain http:// to a host outside
 * loopback is warned about, unless its Backend opts out with spec.tls.mode DISABLE. A warning, not an
 * error, since a private network may be trusted; the opt-out makes that choice visible.
 */
import { checkEndpointUrl, isPlaintextOverNetwork, PLAINTEXT_ADVICE } from "./endpoint-url.ts";
import { errorAt, type PolicyError } from "./errors.ts";
import type { LocatedByKind } from "./kinds.ts";

export function checkPlaintextEndpoints(set: LocatedByKind, warnings: PolicyError[]): void {
  for (const { document, value: backend } of set.backends) {
    if (backend.spec.tls?.mode === "DISABLE") continue;
    backend.spec.endpoints?.forEach((endpoint, e) => {
      const checked = checkEndpointUrl(endpoint.url);
      if (!checked.ok || !isPlaintextOverNetwork(checked.origin, checked.host)) return;
      warnings.push(errorAt(document, ["spec", "endpoints", e, "url"], `traffic to ${endpoint.url} is not encrypted in transit; ${PLAINTEXT_ADVICE}`));
    });
  }
}
