/** Every kind a policy file may hold, keyed by `apiVersion` and `kind`. */
import { z } from "zod";
import { AdminRoleBinding } from "./admin-role-binding.ts";
import { AuthorizationPolicy } from "./authorization-policy.ts";
import { Backend } from "./backend.ts";
import { BackendTrafficPolicy } from "./backend-traffic-policy.ts";
import { Gateway } from "./gateway.ts";
import { HTTPRoute } from "./http-route.ts";
import { PeerAuthentication } from "./peer-authentication.ts";
import { RequestAuthentication } from "./request-authentication.ts";
import { ServiceLevelObjective } from "./service-level-objective.ts";

export const KINDS = {
  "gateway.networking.k8s.io/v1 Gateway": Gateway,
  "gateway.networking.k8s.io/v1 HTTPRoute": HTTPRoute,
  "edgemesh.dev/v1alpha1 Backend": Backend,
  "edgemesh.dev/v1alpha1 BackendTrafficPolicy": BackendTrafficPolicy,
  "edgemesh.dev/v1alpha1 PeerAuthentication": PeerAuthentication,
  "edgemesh.dev/v1alpha1 RequestAuthentication": RequestAuthentication,
  "edgemesh.dev/v1alpha1 AuthorizationPolicy": AuthorizationPolicy,
  "edgemesh.dev/v1alpha1 AdminRoleBinding": AdminRoleBinding,
  "edgemesh.dev/v1alpha1 ServiceLevelObjective": ServiceLevelObjective,
} as const;

export const PolicyDocument = z.discriminatedUnion("kind", [
  Gateway,
  HTTPRoute,
  Backend,
  BackendTrafficPolicy,
  PeerAuthentication,
  RequestAuthentication,
  AuthorizationPolicy,
  AdminRoleBinding,
  ServiceLevelObjective,
]);
export type PolicyDocument = z.infer<typeof PolicyDocument>;

export * from "./admin-role-binding.ts";
export * from "./authorization-policy.ts";
export * from "./backend.ts";
export * from "./backend-traffic-policy.ts";
export * from "./common.ts";
export * from "./gateway.ts";
export * from "./health-check.ts";
export * from "./rate-limit.ts";
export * from "./http-route.ts";
export * from "./peer-authentication.ts";
export * from "./request-authentication.ts";
export * from "./service-level-objective.ts";
