/**
 * RequestAuthentication (edgemesh.dev/v1alpha1), after Istio's security.istio.io/v1
 * RequestAuthentication: which end-user JWTs a call accepts. A token that is sent and fails is
 * refused (401); a request without one goes on with no end user, for an AuthorizationPolicy to
 * decide. Scope as every security policy (table/attached-policies.ts): `targetRefs` to Backends and
 * HTTPRoutes of its namespace, none for its whole namespace, in namespace `edgemesh` the whole mesh.
 *
 * Unlike Istio: `audiences` is required (an ID token of another application of the same issuer must
 * not get in), and a jwksUri is fetched by the control plane, never on the request path (jwks-url.ts).
 */
import { z } from "zod";
import { checkJwkSet } from "../../common/identity/jwk-set.ts";
import { checkJwksUrl } from "../jwks-url.ts";
import { HeaderName, Metadata, PolicyTargetRef } from "./common.ts";

/**
 * Headers a claim may not be copied to: the mesh's own, hop-by-hop ones, what decides routing or
 * framing (content-*, expect), credentials, and what says who the client is (Cloudflare's cf-*,
 * true-client-ip, x-real-ip: a Worker behind a service binding trusts them).
 */
const RESERVED_HEADERS = /^(x-edgemesh-.*|edgemesh-.*|host|connection|keep-alive|te|trailer|transfer-encoding|upgrade|proxy-.*|content-.*|expect|cookie|set-cookie|authorization|x-forwarded-.*|forwarded|x-request-id|traceparent|tracestate|cf-.*|true-client-ip|x-real-ip)$/i;

const OutputHeader = HeaderName.refine((name) => !RESERVED_HEADERS.test(name), {
  error: "must not be a hop-by-hop, routing, framing, credential, client-address or mesh header (x-edgemesh-*, edgemesh-*, host, content-*, authorization, cookie, cf-*, x-forwarded-*...)",
});

export const JwtHeaderSource = z.strictObject({
  name: HeaderName,
  /** Text before the token, e.g. "Bearer " (matched case-insensitively); none: the whole value is the token. */
  prefix: z.string().min(1).max(64).regex(/^[\x21-\x7e ]+$/, { error: "must be printable ASCII" }).optional(),
});

export const JwtRule = z
  .strictObject({
    /** Exact `iss` of the tokens this rule verifies. */
    issuer: z.string().min(1).max(512).regex(/^[\x21-\x7e]+$/, { error: "must be printable ASCII without spaces (usually the issuer's https:// URL)" }),
    /** The token's `aud` must name at least one of them. */
    audiences: z.array(z.string().min(1).max(512)).min(1).max(16),
    /** The issuer's public keys, inline (a JWK Set). */
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(32) }).optional(),
    /** Where the control plane fetches the issuer's JWK Set (https; http only to a loopback address). */
    jwksUri: z.string().max(2048).optional(),
    /** Where the token is looked for; with neither, `Authorization: Bearer <token>` (Istio's default). */
    fromHeaders: z.array(JwtHeaderSource).min(1).max(4).optional(),
    fromCookies: z.array(z.string().min(1).max(128).regex(/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/, { error: "must be a valid cookie name" })).min(1).max(4).optional(),
    /** Claims copied to request headers toward the upstream; a `.` in `claim` reaches into nested objects. */
    outputClaimToHeaders: z
      .array(z.strictObject({ header: OutputHeader, claim: z.string().min(1).max(256) }))
      .max(16)
      .optional(),
    /** Whether the token goes on to the upstream (default false: its header or cookie is removed, as in Istio). */
    forwardOriginalToken: z.boolean().default(false),
  })
  .superRefine((rule, ctx) => {
    if ((rule.jwks === undefined) === (rule.jwksUri === undefined)) {
      ctx.addIssue({ code: "custom", path: ["jwks"], message: "exactly one of jwks (the keys inline) and jwksUri (where to fetch them) must be given" });
    }
    if (rule.jwks !== undefined) {
      if (JSON.stringify(rule.jwks).length > 65_536) ctx.addIssue({ code: "custom", path: ["jwks"], message: "must be at most 65536 characters as JSON" });
      else {
        const checked = checkJwkSet(rule.jwks);
        if (!checked.ok) ctx.addIssue({ code: "custom", path: ["jwks"], message: `is not a usable JWK Set: it ${checked.message}` });
        // Inline keys are written by hand: one that would be left out is a mistake, not an issuer's encryption key.
        else for (const problem of checked.problems) ctx.addIssue({ code: "custom", path: ["jwks"], message: `has a key that cannot be used: ${problem}` });
      }
    }
    if (rule.jwksUri !== undefined) {
      const problem = checkJwksUrl(rule.jwksUri);
      if (problem) ctx.addIssue({ code: "custom", path: ["jwksUri"], message: problem });
    }
    // A claim written into the header the token is read from would be read as the token on the next hop.
    const tokenHeaders = new Set((rule.fromHeaders ?? [{ name: "authorization" }]).map((source) => source.name.toLowerCase()));
    rule.outputClaimToHeaders?.forEach((output, i) => {
      if (tokenHeaders.has(output.header.toLowerCase())) ctx.addIssue({ code: "custom", path: ["outputClaimToHeaders", i, "header"], message: "is a header this rule reads tokens from" });
    });
  });

export type JwtRule = z.infer<typeof JwtRule>;

export const RequestAuthentication = z.strictObject({
  apiVersion: z.literal("edgemesh.dev/v1alpha1"),
  kind: z.literal("RequestAuthentication"),
  metadata: Metadata,
  spec: z.strictObject({
    targetRefs: z.array(PolicyTargetRef).min(1).max(16).optional(),
    jwtRules: z.array(JwtRule).min(1).max(8),
  }),
});

export type RequestAuthentication = z.infer<typeof RequestAuthentication>;
