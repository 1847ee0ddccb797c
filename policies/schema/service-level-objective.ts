/**
 * ServiceLevelObjective (edgemesh.dev/v1alpha1): an availability or latency objective for a Backend
 * (every call to it) or one HTTPRoute's calls to it, over a rolling window, with the alerts the SRE
 * workbook recommends (multi-window, multi-burn-rate) and plain threshold alerts, notified to a
 * webhook. Shaped after Sloth's and OpenSLO's specs; evaluated by the AlertEvaluator Durable Object.
 */
import { z } from "zod";
import { LATENCY_BUCKETS_SECONDS } from "../../common/metrics/families.ts";
import { checkNotificationUrl } from "../notification-url.ts";
import { DurationWithin, durationToMs, Metadata, ObjectName } from "./common.ts";

const BUCKET_MS = LATENCY_BUCKETS_SECONDS.map((seconds) => Math.round(seconds * 1_000_000) / 1_000);

/** A latency that is one of the histogram's bucket bounds, so "faster than it" is exact, not interpolated. */
const LatencyThreshold = z.string().superRefine((text, ctx) => {
  const parsed = DurationWithin(0).safeParse(text);
  if (!parsed.success) return ctx.addIssue({ code: "custom", message: 'must be a duration such as "250ms"' });
  if (!BUCKET_MS.includes(durationToMs(text))) {
    ctx.addIssue({ code: "custom", message: `must be one of the latency histogram's bounds: ${BUCKET_MS.map((ms) => (ms < 1000 ? `${ms}ms` : `${ms / 1000}s`)).join(", ")}` });
  }
});

/** Percent of good events, as SLOs are written: 99.9 means 0.1 % may fail. */
const Target = z.number().gt(0, { error: "must be more than 0" }).lt(100, { error: "must be less than 100: no objective allows zero failures" });

const Window = z
  .string()
  .regex(/^[0-9]{1,2}d$/, { error: 'must be a number of days such as "28d"' })
  .refine((text) => Number.parseInt(text, 10) >= 1 && Number.parseInt(text, 10) <= 30, { error: "must be between 1d and 30d" });

const Threshold = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("ErrorRatio"),
    name: ObjectName,
    /** Fraction of 5xx answers, 0 to 1. */
    above: z.number().min(0).max(1),
    window: DurationWithin(60_000, 24 * 3_600_000).default("5m"),
  }),
  z.strictObject({
    type: z.literal("Ejections"),
    name: ObjectName,
    /** Alert while more of the backend's endpoints than this are ejected (the coordinator's view). */
    above: z.int().min(0).max(256).default(0),
  }),
  z.strictObject({
    type: z.literal("LatencyQuantile"),
    name: ObjectName,
    quantile: z.number().gt(0).lt(1),
    above: DurationWithin(1, 60_000),
    window: DurationWithin(60_000, 24 * 3_600_000).default("5m"),
  }),
]);

export const ServiceLevelObjective = z.strictObject({
  apiVersion: z.literal("edgemesh.dev/v1alpha1"),
  kind: z.literal("ServiceLevelObjective"),
  metadata: Metadata,
  spec: z
    .strictObject({
      /** The Backend whose calls are measured, in this namespace. */
      backend: ObjectName,
      /** Only the calls this HTTPRoute (same namespace) makes to it. */
      route: ObjectName.optional(),
      objective: z.discriminatedUnion("type", [
        z.strictObject({ type: z.literal("Availability"), target: Target }),
        z.strictObject({ type: z.literal("Latency"), target: Target, threshold: LatencyThreshold }),
      ]),
      window: Window.default("28d"),
      alerts: z
        .strictObject({
          /** The SRE workbook's page (14.4x over 1h and 5m, 6x over 6h and 30m) and ticket (1x over 3d and 6h) alerts. */
          burnRate: z.boolean().default(true),
          thresholds: z.array(Threshold).max(16).default([]),
        })
        .default({ burnRate: true, thresholds: [] }),
      notify: z
        .strictObject({
          webhook: z.string().superRefine((url, ctx) => {
            const refusal = checkNotificationUrl(url);
            if (refusal) ctx.addIssue({ code: "custom", message: refusal });
          }),
        })
        .optional(),
    })
    .superRefine((spec, ctx) => {
      const names = new Set<string>();
      spec.alerts.thresholds.forEach((threshold, i) => {
        if (names.has(threshold.name)) ctx.addIssue({ code: "custom", path: ["alerts", "thresholds", i, "name"], message: `is already used by another threshold of this objective` });
        names.add(threshold.name);
      });
    }),
});

export type ServiceLevelObjective = z.infer<typeof ServiceLevelObjective>;
