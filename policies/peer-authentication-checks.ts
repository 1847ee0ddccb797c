/**
 * Cross-document checks of PeerAuthentication: every target exists, and no Backend is covered by two
 * policies of the same scope (two naming it, two namespace-wide ones in its namespace, two mesh-wide
 * ones), since "most specific wins" (workers/gateway/table/peer-authentication.ts) cannot choose
 * between equals. A policy naming a Backend that sets its own spec.peerAuthentication has no effect
 * on it: a warning, not an error.
 */
import { errorAt, type PolicyError } from "./errors.ts";
import type { Located, LocatedByKind } from "./kinds.ts";
import { MESH_ROOT_NAMESPACE, type Backend, type PeerAuthentication } from "./schema/index.ts";

export function checkPeerAuthentications(set: LocatedByKind, errors: PolicyError[], warnings: PolicyError[]): void {
  if (!set.peerAuthentications.length) return;
  const backends = new Map<string, Backend>();
  for (const { value } of set.backends) backends.set(`${value.metadata.namespace}/${value.metadata.name}`, value);
  const claimedBy = new Map<string, Located<PeerAuthentication>>();
  const claim = (key: string, located: Located<PeerAuthentication>) => {
    const owner = claimedBy.get(key);
    if (!owner) claimedBy.set(key, located);
    if (owner === located) return "an earlier entry of the same targetRefs";
    return owner && `PeerAuthentication/${owner.value.metadata.name} (${owner.document.source})`;
  };
  for (const located of set.peerAuthentications) {
    const { document, value: policy } = located;
    const namespace = policy.metadata.namespace;
    const refs = policy.spec.targetRefs;
    if (!refs) {
      const mesh = namespace === MESH_ROOT_NAMESPACE;
      const other = claim(mesh ? "mesh" : `ns/${namespace}`, located);
      if (other) {
        const scope = mesh ? `mesh-wide (no targetRefs in namespace "${MESH_ROOT_NAMESPACE}")` : `namespace-wide (no targetRefs) in namespace "${namespace}"`;
        errors.push(errorAt(document, ["spec", "targetRefs"], `is not set, so the policy is ${scope}, and so is ${other}: set targetRefs on one of them, or merge them`));
      }
      continue;
    }
    refs.forEach((ref, t) => {
      const path = ["spec", "targetRefs", t, "name"];
      const backend = backends.get(`${namespace}/${ref.name}`);
      if (!backend) return errors.push(errorAt(document, path, `refers to unknown Backend "${ref.name}"`));
      const other = claim(`Backend/${namespace}/${ref.name}`, located);
      if (other) return errors.push(errorAt(document, path, `Backend "${ref.name}" is already targeted by ${other}`));
      const own = backend.spec.peerAuthentication;
      if (own) {
        warnings.push(errorAt(document, path, `has no effect on Backend "${ref.name}": its own spec.peerAuthentication (mode ${own.mode}) wins`));
      }
    });
  }
}
