/**
 * Backend (edgemesh.dev/v1alpha1): a service the mesh routes to. Exactly one of `worker` (a Worker
 * reached through a service binding) or `endpoints` (plain HTTP origins), as a protobuf oneof.
 */
import { z } from "zod";
import { Metadata } from "./common.ts";

export const Endpoint = z.strictObject({
  url: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL such as "http://127.0.0.1:9101"' })
    .refine((url) => { const parsed = new URL(url); return parsed.pathname === "/" && !parsed.search && !parsed.hash; }, {
      error: "must be an origin without path, query or fragment",
    }),
  weight: z.int().min(1).max(128).default(1),
  zone: z.string().max(64).optional(),
  version: z.string().max(64).optional(),
});

export const Backend = z.strictObject({
  apiVersion: z.literal("edgemesh.dev/v1alpha1"),
  kind: z.literal("Backend"),
  metadata: Metadata,
  spec: z
    .strictObject({
      worker: z
        .strictObject({
          service: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "must be a service binding name such as RATINGS" }),
        })
        .optional(),
      /** Static endpoints; [] when every endpoint registers at run time (admin API). */
      endpoints: z.array(Endpoint).max(256).optional(),
    })
    .superRefine((spec, ctx) => {
      if (!spec.worker === !spec.endpoints) {
        ctx.addIssue({ code: "custom", path: [], message: "must set exactly one of worker or endpoints" });
      }
    }),
});

export type Backend = z.infer<typeof Backend>;
export type Endpoint = z.infer<typeof Endpoint>;
