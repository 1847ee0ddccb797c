/**
 * Each Backend's effective peer-authentication mode, resolved once per configuration version as
 * Istio resolves PeerAuthentication: the most specific wins. The Backend's own spec.peerAuthentication,
 * then a PeerAuthentication naming it, then its namespace's, then the mesh's (namespace "edgemesh"),
 * then PERMISSIVE. Validation refuses two policies of one scope for the same Backend
 * (policies/peer-authentication-checks.ts), so each scope holds at most one here.
 */
import type { Backend, PeerAuthentication, PeerAuthenticationMode } from "../../../policies/schema/index.ts";
import { PolicyAttachments } from "./attached-policies.ts";

export type PeerAuthenticationOf = (backend: Backend) => PeerAuthenticationMode;

export function peerAuthenticationResolver(policies: readonly PeerAuthentication[]): PeerAuthenticationOf {
  const attachments = new PolicyAttachments(policies);
  return (backend) => {
    const own = backend.spec.peerAuthentication?.mode;
    if (own || !attachments.size) return own ?? "PERMISSIVE";
    const { backend: targeted, namespace, mesh } = attachments.scopes(backend.metadata);
    return (targeted[0] ?? namespace[0] ?? mesh[0])?.spec.mode ?? "PERMISSIVE";
  };
}

const STRICTNESS: Record<PeerAuthenticationMode, number> = { DISABLE: 0, PERMISSIVE: 1, STRICT: 2 };

/**
 * A rule's mode: the strictest among its backends, so whether a request is let in never depends on
 * the weighted draw; a rule without backends (a redirect) is PERMISSIVE. Resolved with the table.
 */
export function strictestMode(targets: readonly { backend: { peerAuthentication: PeerAuthenticationMode } }[]): PeerAuthenticationMode {
  let mode: PeerAuthenticationMode = targets.length ? "DISABLE" : "PERMISSIVE";
  for (const target of targets) if (STRICTNESS[target.backend.peerAuthentication] > STRICTNESS[mode]) mode = target.backend.peerAuthentication;
  return mode;
}
