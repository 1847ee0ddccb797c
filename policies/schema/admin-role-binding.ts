/**
 * AdminRoleBinding (edgemesh.dev/v1alpha1): who may use the admin API, after Kubernetes RBAC's
 * ClusterRoleBinding. A binding gives one role to its subjects: mesh identities named exactly
 * (`principal`) or by a prefix that ends at a path segment (`principalPrefix`: a whole trust domain
 * or one namespace). Roles nest: viewer (reads), operator (viewer, and the service registry),
 * admin (everything: apply, rollback, keys, credentials). A binding is mesh-wide whatever its
 * metadata.namespace, as the admin API is.
 *
 * The trust domain is the deploy's (MESH_TRUST_DOMAIN), unknown to a file: a principal of another
 * trust domain is valid here and matches no caller (a verified identity is always of the mesh's own).
 */
import { z } from "zod";
import { isTrustDomain, parseSpiffeId } from "../../common/identity/spiffe-id.ts";
import { Metadata } from "./common.ts";

export const ADMIN_ROLES = ["viewer", "operator", "admin"] as const;
export const AdminRole = z.enum(ADMIN_ROLES);
export type AdminRole = z.infer<typeof AdminRole>;

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Why a principalPrefix is refused, or undefined: `spiffe://<td>/` or `spiffe://<td>/ns/<namespace>/`. */
function prefixIssue(prefix: string): string | undefined {
  const form = 'must be "spiffe://<trust-domain>/" or "spiffe://<trust-domain>/ns/<namespace>/" (a prefix ends at a path segment)';
  if (prefix.length > 2048 || !prefix.startsWith("spiffe://") || !prefix.endsWith("/")) return form;
  const parts = prefix.slice(9, -1).split("/");
  if (!isTrustDomain(parts[0]!)) return form;
  if (parts.length === 1) return undefined;
  const [, ns, namespace] = parts;
  if (parts.length !== 3 || ns !== "ns" || !SEGMENT.test(namespace!) || namespace === "." || namespace === "..") return form;
  return undefined;
}

const Principal = z
  .string()
  .superRefine((id, ctx) => {
    if (!parseSpiffeId(id)) ctx.addIssue({ code: "custom", message: "must be a SPIFFE ID spiffe://<trust-domain>/ns/<namespace>/sa/<service>" });
  })
  .meta({ description: "one mesh identity, exactly: spiffe://<trust-domain>/ns/<namespace>/sa/<service>" });

const PrincipalPrefix = z
  .string()
  .superRefine((prefix, ctx) => {
    const issue = prefixIssue(prefix);
    if (issue) ctx.addIssue({ code: "custom", message: issue });
  })
  .meta({ description: 'every identity under it: "spiffe://<trust-domain>/" or "spiffe://<trust-domain>/ns/<namespace>/"' });

/** Exactly one of `principal` or `principalPrefix`, as a protobuf oneof. */
export const AdminSubject = z
  .strictObject({ principal: Principal.optional(), principalPrefix: PrincipalPrefix.optional() })
  .superRefine((subject, ctx) => {
    const set = Number(subject.principal !== undefined) + Number(subject.principalPrefix !== undefined);
    if (set !== 1) ctx.addIssue({ code: "custom", message: "must have exactly one of principal or principalPrefix" });
  });

export const AdminRoleBinding = z.strictObject({
  apiVersion: z.literal("edgemesh.dev/v1alpha1"),
  kind: z.literal("AdminRoleBinding"),
  metadata: Metadata,
  spec: z.strictObject({
    role: AdminRole,
    subjects: z.array(AdminSubject).min(1).max(100),
  }),
});

export type AdminRoleBinding = z.infer<typeof AdminRoleBinding>;
