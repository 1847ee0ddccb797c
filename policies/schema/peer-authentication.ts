/**
 * PeerAuthentication (edgemesh.dev/v1alpha1), after Istio's: who may call the Backends it covers
 * (the modes of Backend.spec.peerAuthentication). With targetRefs, the named Backends of its namespace;
 * without, every Backend of its namespace, and in the root namespace (MESH_ROOT_NAMESPACE) the whole
 * mesh. The most specific wins, as in Istio: a Backend's own spec.peerAuthentication, then a policy
 * naming it, then its namespace's, then the mesh's, then PERMISSIVE (workers/gateway/table/peer-authentication.ts).
 */
import { z } from "zod";
import { PEER_AUTHENTICATION_MODES } from "./backend.ts";
import { Metadata, PolicyTargetRef } from "./common.ts";

/** Only Backends: who may call a backend cannot depend on the route a request took to reach it (Istio selects workloads, not routes). */
const BackendTargetRef = PolicyTargetRef.superRefine((ref, ctx) => {
  if (ref.kind !== "Backend") {
    ctx.addIssue({
      code: "custom",
      path: ["kind"],
      message: "must be Backend: peer authentication applies to every call to a backend, whichever route it came by (an HTTPRoute cannot be a target)",
    });
  }
});

export const PeerAuthentication = z.strictObject({
  apiVersion: z.literal("edgemesh.dev/v1alpha1"),
  kind: z.literal("PeerAuthentication"),
  metadata: Metadata,
  spec: z.strictObject({
    /** Leave out for every Backend of the namespace (the whole mesh in namespace "edgemesh"); never empty. */
    targetRefs: z.array(BackendTargetRef).min(1).max(16).optional(),
    mode: z.enum(PEER_AUTHENTICATION_MODES).meta({ description: "STRICT: a verified mesh identity is required; PERMISSIVE: verified when present; DISABLE: not checked" }),
  }),
});

export type PeerAuthentication = z.infer<typeof PeerAuthentication>;
