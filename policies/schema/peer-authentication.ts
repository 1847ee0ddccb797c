/**
 * PeerAuthentication (edgemesh.dev/v1alpha1). Placeholder registered with every kind so the set, the bundle and the
 * snapshot carry it; its fields come with its implementation (issue 7).
 */
import { z } from "zod";
import { Metadata } from "./common.ts";

export const PeerAuthentication = z.strictObject({
  apiVersion: z.literal("edgemesh.dev/v1alpha1"),
  kind: z.literal("PeerAuthentication"),
  metadata: Metadata,
  spec: z.strictObject({}),
});

export type PeerAuthentication = z.infer<typeof PeerAuthentication>;
