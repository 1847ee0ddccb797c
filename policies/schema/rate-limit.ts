/**
 * Rate limits, shaped like Envoy Gateway's: rules whose clientSelectors pick the requests they apply
 * to and what makes a separate bucket (`type: Distinct`). `local` limits hold per isolate (a token
 * bucket); `global` limits hold across every isolate and location, counted by Durable Objects that
 * lease tokens to isolates in batches. A rule without selectors has one bucket for all its traffic:
 * on an HTTPRoute target that is a per-route limit.
 */
import { z } from "zod";
import { parseIPv6 } from "../ip-address.ts";
import { Duration, durationToMs, HeaderName, regexIssue } from "./common.ts";

const HeaderSelector = z
  .strictObject({
    name: HeaderName,
    /** Exact and RegularExpression pick requests; Distinct gives each value its own bucket. */
    type: z.enum(["Exact", "RegularExpression", "Distinct"]).default("Exact"),
    value: z.string().max(4096).optional(),
    /** Select requests that do NOT match (Exact and RegularExpression only). */
    invert: z.boolean().default(false),
  })
  .superRefine((header, ctx) => {
    if (header.type === "Distinct" && (header.value !== undefined || header.invert)) {
      ctx.addIssue({ code: "custom", path: ["type"], message: "Distinct takes neither value nor invert" });
    }
    if (header.type !== "Distinct" && header.value === undefined) {
      ctx.addIssue({ code: "custom", path: ["value"], message: `is required for type ${header.type}` });
    }
    const issue = header.type === "RegularExpression" && header.value !== undefined ? regexIssue(header.value) : undefined;
    if (issue !== undefined) ctx.addIssue({ code: "custom", path: ["value"], message: issue });
  });

const Cidr = z.string().refine(isCidr, { error: 'must be a CIDR such as "10.0.0.0/8" or "2001:db8::/32"' });

export const ClientSelector = z
  .strictObject({
    headers: z.array(HeaderSelector).min(1).max(16).optional(),
    /** Distinct: each client IP in the range has its own bucket; Exact: the range shares one. */
    sourceCIDR: z.strictObject({ type: z.enum(["Exact", "Distinct"]).default("Exact"), value: Cidr }).optional(),
    /** Claims of the caller's JWT (Authorization: Bearer). */
    jwtClaims: z
      .array(
        z
          .strictObject({ name: z.string().min(1).max(256), type: z.enum(["Exact", "Distinct"]).default("Distinct"), value: z.string().max(1024).optional() })
          .superRefine((claim, ctx) => {
            if (claim.type === "Exact" && claim.value === undefined) ctx.addIssue({ code: "custom", path: ["value"], message: "is required for type Exact" });
            if (claim.type === "Distinct" && claim.value !== undefined) ctx.addIssue({ code: "custom", path: ["value"], message: "Distinct takes no value" });
          }),
      )
      .min(1)
      .max(8)
      .optional(),
  })
  .refine((selector) => selector.headers || selector.sourceCIDR || selector.jwtClaims, {
    error: "must set headers, sourceCIDR or jwtClaims",
  });

const UNIT_MS = { Second: 1_000, Minute: 60_000, Hour: 3_600_000, Day: 86_400_000 } as const;

export const RateLimitValue = z
  .strictObject({
    requests: z.int().min(1).max(1_000_000_000),
    /** Envoy Gateway's fixed units... */
    unit: z.enum(["Second", "Minute", "Hour", "Day"]).optional(),
    /** ...or any window, such as "90s" (a fixed window aligned to the epoch). */
    window: Duration.optional(),
  })
  .superRefine((limit, ctx) => {
    if (!limit.unit === !limit.window) ctx.addIssue({ code: "custom", path: [], message: "must set exactly one of unit or window" });
    if (limit.window && durationToMs(limit.window) < 1000) ctx.addIssue({ code: "custom", path: ["window"], message: "must be at least 1s" });
  });

export const windowMsOf = (limit: z.infer<typeof RateLimitValue>) => (limit.unit ? UNIT_MS[limit.unit] : durationToMs(limit.window!));

export const RateLimitRule = z.strictObject({
  /** Names the limit in RateLimit-Policy headers and the admin API; defaults to "rule-<index>". */
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: "must be lowercase letters, digits and '-'" }).optional(),
  clientSelectors: z.array(ClientSelector).max(8).optional(),
  limit: RateLimitValue,
});

const Rules = z.strictObject({
  rules: z
    .array(RateLimitRule)
    .min(1)
    .max(16)
    .superRefine((rules, ctx) => {
      // Names (explicit, or rule-<index>) identify buckets and headers: two rules must not share one.
      const seen = new Set<string>();
      rules.forEach((rule, index) => {
        const name = rule.name ?? `rule-${index}`;
        if (seen.has(name)) ctx.addIssue({ code: "custom", path: [index, "name"], message: `"${name}" names another rule of this list too` });
        seen.add(name);
      });
    }),
});

export const RateLimit = z
  .strictObject({
    local: Rules.optional(),
    /** Global limits are leased from Durable Objects sharded `shards` ways per rule by key. */
    global: Rules.extend({ shards: z.int().min(1).max(256).default(8) }).optional(),
  })
  .refine((limit) => limit.local || limit.global, { error: "must set local, global or both" });

export type RateLimit = z.infer<typeof RateLimit>;
export type RateLimitRule = z.infer<typeof RateLimitRule>;
export type ClientSelector = z.infer<typeof ClientSelector>;

function isCidr(text: string): boolean {
  const [address, bits, extra] = text.split("/");
  if (extra !== undefined || bits === undefined || !/^[0-9]{1,3}$/.test(bits)) return false;
  if (/^[0-9.]+$/.test(address!)) {
    const parts = address!.split(".");
    return parts.length === 4 && parts.every((part) => /^[0-9]{1,3}$/.test(part) && Number(part) <= 255) && Number(bits) <= 32;
  }
  // IPv6 as the matcher parses it (ratelimit/cidr.ts): text that is no address would never match.
  return parseIPv6(address!) !== undefined && Number(bits) <= 128;
}
