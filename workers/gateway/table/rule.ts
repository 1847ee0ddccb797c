/** An HTTPRoute rule compiled for the request path: its filters, its weighted backends and their policies. */
import type { HTTPRoute, HTTPRouteFilter, HTTPRouteRule, PeerAuthenticationMode } from "../../../policies/schema/index.ts";
import { qualifiedName } from "../../../policies/qualified-name.ts";
import type { Authorizer } from "../authz/evaluate.ts";
import type { AuthorizerFor } from "./authorization.ts";
import type { BackendRuntime } from "./backends.ts";
import { resolveCallPolicy, type CallPolicy, type NamedSpec } from "./call-policy.ts";
import type { EndUserAuthentication } from "./end-user-authn.ts";
import { compileHeaderOps, type HeaderOps } from "./header-ops.ts";
import { strictestMode } from "./peer-authentication.ts";

type PathModifier = NonNullable<Extract<HTTPRouteFilter, { type: "URLRewrite" }>["urlRewrite"]["path"]>;

export interface Redirect {
  readonly scheme?: "http" | "https";
  readonly hostname?: string;
  readonly port?: number;
  readonly path?: PathModifier;
  readonly statusCode: 301 | 302 | 303 | 307 | 308;
}

export interface Rewrite {
  readonly hostname?: string;
  readonly path?: PathModifier;
}

export interface Mirror {
  readonly backend: BackendRuntime;
  /** Share of the requests mirrored, 0 to 1. */
  readonly fraction: number;
  /** The mirror backend's AuthorizationPolicies: a copy goes only where the caller may call. */
  readonly authorization: Authorizer | undefined;
}

export interface BackendTarget {
  readonly backend: BackendRuntime;
  readonly weight: number;
  /** The backendRef's own filters, applied once it is chosen: a redirect answers without calling the backend. */
  readonly redirect: Redirect | undefined;
  readonly rewrite: Rewrite | undefined;
  readonly requestHeaders: HeaderOps | undefined;
  readonly responseHeaders: HeaderOps | undefined;
  readonly policy: CallPolicy;
  /** The AuthorizationPolicies that apply to calls through this backendRef (stages/authorize.ts); undefined: none. */
  readonly authorization: Authorizer | undefined;
}

export interface CompiledRule {
  /** "reviews", or "shop/reviews" outside the default namespace. */
  readonly route: string;
  readonly ruleIndex: number;
  readonly redirect: Redirect | undefined;
  readonly rewrite: Rewrite | undefined;
  readonly requestHeaders: HeaderOps | undefined;
  readonly responseHeaders: HeaderOps | undefined;
  /** Every RequestMirror of the rule, each sending its own copy. */
  readonly mirrors: readonly Mirror[];
  /** Backends with a weight above zero. */
  readonly targets: readonly BackendTarget[];
  /** Whether the rule named any backend at all (all-zero weights answer 500, no backends 500 too). */
  readonly hasBackendRefs: boolean;
  /** The RequestAuthentications that apply to the rule's calls (stages/request-authentication.ts). */
  readonly endUsers: EndUserAuthentication | undefined;
  /** The strictest peerAuthentication mode among `targets` (stages/authenticate.ts). */
  readonly peerAuthentication: PeerAuthenticationMode;
}

export interface RuleContext {
  backend(namespace: string, name: string): BackendRuntime;
  backendPolicy(backend: BackendRuntime): NamedSpec | undefined;
  routePolicy: NamedSpec | undefined;
  authorization: AuthorizerFor;
  endUsers(targets: readonly BackendTarget[], route: { namespace: string; name: string }): EndUserAuthentication | undefined;
}

/** The filter of a type in a rule's (or a backendRef's) filter list. */
const filterOf = <T extends HTTPRouteFilter["type"]>(filters: readonly HTTPRouteFilter[] | undefined, type: T) =>
  filters?.find((filter): filter is Extract<HTTPRouteFilter, { type: T }> => filter.type === type);

export function compileRule(route: HTTPRoute, rule: HTTPRouteRule, ruleIndex: number, context: RuleContext): CompiledRule {
  const { namespace, name } = route.metadata;
  const targets = (rule.backendRefs ?? [])
    .filter((ref) => ref.weight > 0)
    .map((ref): BackendTarget => {
      const backendNamespace = ref.namespace ?? namespace;
      const backend = context.backend(backendNamespace, ref.name);
      return {
        backend,
        weight: ref.weight,
        redirect: filterOf(ref.filters, "RequestRedirect")?.requestRedirect,
        rewrite: filterOf(ref.filters, "URLRewrite")?.urlRewrite,
        requestHeaders: compileHeaderOps(filterOf(ref.filters, "RequestHeaderModifier")?.requestHeaderModifier),
        responseHeaders: compileHeaderOps(filterOf(ref.filters, "ResponseHeaderModifier")?.responseHeaderModifier),
        policy: resolveCallPolicy(context.backendPolicy(backend), context.routePolicy, rule),
        authorization: context.authorization({ namespace: backendNamespace, name: ref.name }, route.metadata),
      };
    });
  return {
    route: qualifiedName(namespace, name),
    ruleIndex,
    redirect: filterOf(rule.filters, "RequestRedirect")?.requestRedirect,
    rewrite: filterOf(rule.filters, "URLRewrite")?.urlRewrite,
    requestHeaders: compileHeaderOps(filterOf(rule.filters, "RequestHeaderModifier")?.requestHeaderModifier),
    responseHeaders: compileHeaderOps(filterOf(rule.filters, "ResponseHeaderModifier")?.responseHeaderModifier),
    mirrors: (rule.filters ?? []).flatMap((filter): Mirror[] => {
      if (filter.type !== "RequestMirror") return [];
      const { backendRef, percent, fraction } = filter.requestMirror;
      return [{
        backend: context.backend(backendRef.namespace ?? namespace, backendRef.name),
        authorization: context.authorization({ namespace: backendRef.namespace ?? namespace, name: backendRef.name }, route.metadata),
        fraction: percent !== undefined ? percent / 100 : fraction ? fraction.numerator / fraction.denominator : 1,
      }];
    }),
    targets,
    hasBackendRefs: (rule.backendRefs ?? []).length > 0,
    endUsers: context.endUsers(targets, route.metadata),
    peerAuthentication: strictestMode(targets),
  };
}
