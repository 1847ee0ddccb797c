/**
 * HTTPRoute, as the Gateway API defines it (gateway.networking.k8s.io/v1): the subset edgemesh
 * implements, with the CRD's own limits and defaults. A field the mesh does not implement is an
 * "Unrecognized key" error rather than being silently ignored.
 */
import { z } from "zod";
import {
  Duration,
  durationToMs,
  HeaderName,
  HeaderValue,
  Hostname,
  PreciseHostname,
  Metadata,
  ObjectName,
  regexIssue,
} from "./common.ts";

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"] as const;

const PathMatch = z
  .strictObject({
    type: z.enum(["Exact", "PathPrefix", "RegularExpression"]).default("PathPrefix"),
    value: z.string().max(1024).default("/"),
  })
  .superRefine((path, ctx) => {
    if (path.type === "RegularExpression") {
      const issue = regexIssue(path.value);
      if (issue !== undefined) ctx.addIssue({ code: "custom", path: ["value"], message: issue });
      return;
    }
    if (!path.value.startsWith("/")) ctx.addIssue({ code: "custom", path: ["value"], message: 'must start with "/"' });
    if (/\/\.{1,2}(\/|$)|\/\/|%2f|%5c|#|\?/i.test(path.value)) {
      ctx.addIssue({ code: "custom", path: ["value"], message: 'must be a normalized path (no "//", "/./", "/../", "%2F", "?" or "#")' });
    }
  });

const ValueMatch = z
  .strictObject({
    type: z.enum(["Exact", "RegularExpression"]).default("Exact"),
    name: HeaderName,
    value: z.string().max(4096),
  })
  .superRefine((match, ctx) => {
    const issue = match.type === "RegularExpression" ? regexIssue(match.value) : undefined;
    if (issue !== undefined) ctx.addIssue({ code: "custom", path: ["value"], message: issue });
  });

export const HTTPRouteMatch = z.strictObject({
  path: PathMatch.optional(),
  headers: z.array(ValueMatch).max(16).optional(),
  queryParams: z.array(ValueMatch).max(16).optional(),
  method: z.enum(HTTP_METHODS).optional(),
});

const HeaderPair = z.strictObject({ name: HeaderName, value: HeaderValue });

export const HeaderModifier = z.strictObject({
  set: z.array(HeaderPair).max(16).optional(),
  add: z.array(HeaderPair).max(16).optional(),
  remove: z.array(HeaderName).max(16).optional(),
});

const PathModifier = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("ReplaceFullPath"), replaceFullPath: z.string().startsWith("/").max(1024) }),
  z.strictObject({ type: z.literal("ReplacePrefixMatch"), replacePrefixMatch: z.string().startsWith("/").max(1024) }),
]);

/** A reference to a Backend. `group`/`kind` may name a core Service too: it resolves to the Backend of that name. */
const backendReferenceShape = {
  group: z.enum(["", "edgemesh.dev"]).optional(),
  kind: z.enum(["Backend", "Service"]).optional(),
  name: ObjectName,
  namespace: ObjectName.optional(),
  /** Accepted for Gateway API compatibility and ignored: a Backend's endpoints carry their own ports. */
  port: z.int().min(1).max(65535).optional(),
};

const groupMatchesKind = (ref: { group?: string; kind?: string }, ctx: z.RefinementCtx) => {
  if (ref.kind === "Backend" && ref.group === "") {
    ctx.addIssue({ code: "custom", path: ["group"], message: 'must be "edgemesh.dev" for kind Backend' });
  }
};

export const BackendObjectReference = z.strictObject(backendReferenceShape).superRefine(groupMatchesKind);

/** Of the requests, the share mirrored: `percent` or `fraction` (not both); neither mirrors them all. */
const RequestMirror = z
  .strictObject({
    backendRef: BackendObjectReference,
    percent: z.int().min(0).max(100).optional(),
    fraction: z.strictObject({ numerator: z.int().min(0), denominator: z.int().min(1).default(100) }).optional(),
  })
  .superRefine((mirror, ctx) => {
    if (mirror.percent !== undefined && mirror.fraction) {
      ctx.addIssue({ code: "custom", path: ["fraction"], message: "cannot be set together with percent" });
    } else if (mirror.fraction && mirror.fraction.denominator >= 1 && mirror.fraction.numerator > mirror.fraction.denominator) {
      ctx.addIssue({ code: "custom", path: ["fraction", "numerator"], message: `must not be greater than the denominator (${mirror.fraction.denominator})` });
    }
  });

const filterOf = <T extends string, K extends string, S extends z.ZodType>(type: T, key: K, config: S) =>
  z.strictObject({ type: z.literal(type), [key]: config } as { type: z.ZodLiteral<T> } & { [P in K]: S });

export const RequestHeaderModifierFilter = filterOf("RequestHeaderModifier", "requestHeaderModifier", HeaderModifier);
export const ResponseHeaderModifierFilter = filterOf("ResponseHeaderModifier", "responseHeaderModifier", HeaderModifier);

const RequestRedirectFilter = filterOf(
  "RequestRedirect",
  "requestRedirect",
  z.strictObject({
    scheme: z.enum(["http", "https"]).optional(),
    hostname: PreciseHostname.optional(),
    path: PathModifier.optional(),
    port: z.int().min(1).max(65535).optional(),
    statusCode: z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)]).default(302),
  }),
);
const URLRewriteFilter = filterOf("URLRewrite", "urlRewrite", z.strictObject({ hostname: PreciseHostname.optional(), path: PathModifier.optional() }));

export const HTTPRouteFilter = z.discriminatedUnion("type", [
  RequestHeaderModifierFilter,
  ResponseHeaderModifierFilter,
  RequestRedirectFilter,
  URLRewriteFilter,
  filterOf("RequestMirror", "requestMirror", RequestMirror),
]);

/** Filters allowed on a single backendRef, applied only when the request goes to it: all but RequestMirror. */
const BackendRefFilter = z.discriminatedUnion("type", [RequestHeaderModifierFilter, ResponseHeaderModifierFilter, RequestRedirectFilter, URLRewriteFilter]);

const ONCE_ONLY = ["RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite"];

/** The Gateway API's rules for one filter list (a rule's, or a backendRef's). */
function checkFilterList(filters: readonly { type: string }[] | undefined, where: "rule" | "backendRef", ctx: z.RefinementCtx): void {
  const types = (filters ?? []).map((filter) => filter.type);
  for (const type of ONCE_ONLY) {
    const second = types.indexOf(type, types.indexOf(type) + 1);
    if (second > 0) ctx.addIssue({ code: "custom", path: ["filters", second], message: `${type} may appear only once per ${where}` });
  }
  if (types.includes("RequestRedirect") && types.includes("URLRewrite")) {
    ctx.addIssue({ code: "custom", path: ["filters"], message: "RequestRedirect and URLRewrite cannot be used together" });
  }
}

const usesPrefixRewrite = (filters: readonly z.infer<typeof BackendRefFilter | typeof HTTPRouteFilter>[] | undefined) =>
  (filters ?? []).some(
    (filter) =>
      (filter.type === "URLRewrite" && filter.urlRewrite.path?.type === "ReplacePrefixMatch") ||
      (filter.type === "RequestRedirect" && filter.requestRedirect.path?.type === "ReplacePrefixMatch"),
  );

export const HTTPBackendRef = z
  .strictObject({
    ...backendReferenceShape,
    weight: z.int().min(0).max(1_000_000).default(1),
    filters: z.array(BackendRefFilter).max(16).optional(),
  })
  .superRefine((ref, ctx) => {
    groupMatchesKind(ref, ctx);
    checkFilterList(ref.filters, "backendRef", ctx);
  });

export const HTTPRouteRule = z
  .strictObject({
    name: ObjectName.optional(),
    matches: z.array(HTTPRouteMatch).max(64).optional(),
    filters: z.array(HTTPRouteFilter).max(16).optional(),
    backendRefs: z.array(HTTPBackendRef).max(16).optional(),
    timeouts: z.strictObject({ request: Duration.optional(), backendRequest: Duration.optional() }).optional(),
    retry: z
      .strictObject({
        codes: z.array(z.int().min(400).max(599)).max(32).optional(),
        attempts: z.int().min(0).max(10).optional(),
        backoff: Duration.optional(),
      })
      .optional(),
  })
  .superRefine((rule, ctx) => {
    checkFilterList(rule.filters, "rule", ctx);
    const types: string[] = (rule.filters ?? []).map((filter) => filter.type);
    if (types.includes("RequestRedirect") && rule.backendRefs?.length) {
      ctx.addIssue({ code: "custom", path: ["backendRefs"], message: "must be empty when the rule has a RequestRedirect filter" });
    }
    const everyMatchIsPrefix = (rule.matches ?? [{}]).every((match) => (match.path?.type ?? "PathPrefix") === "PathPrefix");
    const prefixOnly = "ReplacePrefixMatch requires every match to use a PathPrefix path";
    if (usesPrefixRewrite(rule.filters) && !everyMatchIsPrefix) ctx.addIssue({ code: "custom", path: ["filters"], message: prefixOnly });
    rule.backendRefs?.forEach((ref, b) => {
      if (usesPrefixRewrite(ref.filters) && !everyMatchIsPrefix) ctx.addIssue({ code: "custom", path: ["backendRefs", b, "filters"], message: prefixOnly });
      // Both would rewrite the same URL, one after the other: which path a ReplacePrefixMatch meets would be unclear.
      if (!types.includes("URLRewrite")) return;
      ref.filters?.forEach((filter, f) => {
        if (filter.type === "URLRewrite" || filter.type === "RequestRedirect") {
          ctx.addIssue({ code: "custom", path: ["backendRefs", b, "filters", f], message: `${filter.type} cannot be used with the rule's URLRewrite filter` });
        }
      });
    });
    const { request, backendRequest } = rule.timeouts ?? {};
    if (request && backendRequest && durationToMs(backendRequest) > durationToMs(request)) {
      ctx.addIssue({ code: "custom", path: ["timeouts", "backendRequest"], message: "must not be longer than timeouts.request" });
    }
  });

/** A Gateway the route attaches to: all its listeners, or those of `sectionName` (a listener's name) and `port`. */
const ParentReference = z.strictObject({
  group: z.literal("gateway.networking.k8s.io").optional(),
  kind: z.literal("Gateway").optional(),
  /** The route's namespace when not set. */
  namespace: ObjectName.optional(),
  name: ObjectName,
  sectionName: ObjectName.optional(),
  port: z.int().min(1).max(65535).optional(),
});

export const HTTPRoute = z.strictObject({
  apiVersion: z.literal("gateway.networking.k8s.io/v1"),
  kind: z.literal("HTTPRoute"),
  metadata: Metadata,
  spec: z.strictObject({
    /** The Gateways it attaches to; without any Gateway in the policies, every route attaches to an implicit one. */
    parentRefs: z.array(ParentReference).max(32).optional(),
    hostnames: z.array(Hostname).max(16).optional(),
    rules: z.array(HTTPRouteRule).min(1).max(16).default([{}]),
  }),
});

export type HTTPRoute = z.infer<typeof HTTPRoute>;
export type ParentReference = z.infer<typeof ParentReference>;
export type HTTPRouteRule = z.infer<typeof HTTPRouteRule>;
export type HTTPRouteMatch = z.infer<typeof HTTPRouteMatch>;
export type HTTPRouteFilter = z.infer<typeof HTTPRouteFilter>;
export type HTTPBackendRef = z.infer<typeof HTTPBackendRef>;
export type HeaderModifier = z.infer<typeof HeaderModifier>;
export type BackendObjectReference = z.infer<typeof BackendObjectReference>;
