/**
 * RequestAuthentication (edgemesh.dev/v1alpha1). Placeholder registered with every kind so the set, the bundle and the
 * snapshot carry it; its fields come with its implementation (issue 7).
 */
import { z } from "zod";
import { Metadata } from "./common.ts";

export const RequestAuthentication = z.strictObject({
  apiVersion: z.literal("edgemesh.dev/v1alpha1"),
  kind: z.literal("RequestAuthentication"),
  metadata: Metadata,
  spec: z.strictObject({}),
});

export type RequestAuthentication = z.infer<typeof RequestAuthentication>;
