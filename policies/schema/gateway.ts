/**
 * Gateway, as the Gateway API defines it (gateway.networking.k8s.io/v1): the listeners HTTPRoutes
 * attach to through their parentRefs. edgemesh is one Worker serving whatever hostnames and ports the
 * platform sends it, so a listener is a hostname to serve, and its port and protocol are recorded for
 * parentRefs to name; TLS is the platform's (terminated before the Worker), so `tls` is not a field.
 */
import { z } from "zod";
import { Hostname, Metadata, ObjectName } from "./common.ts";

export const LISTENER_PROTOCOLS = ["HTTP", "HTTPS"] as const;

const AllowedRoutes = z.strictObject({
  /** Same (the default): only routes in the Gateway's namespace attach; All: routes from any namespace. */
  namespaces: z.strictObject({ from: z.enum(["Same", "All"]).default("Same") }).optional(),
  /** HTTPRoute is the only kind there is to allow. */
  kinds: z.array(z.strictObject({ group: z.literal("gateway.networking.k8s.io").optional(), kind: z.literal("HTTPRoute") })).max(8).optional(),
});

export const Listener = z.strictObject({
  name: ObjectName,
  /** Without one, the listener takes every hostname. */
  hostname: Hostname.optional(),
  port: z.int().min(1).max(65535),
  protocol: z.enum(LISTENER_PROTOCOLS),
  allowedRoutes: AllowedRoutes.optional(),
});

export const Gateway = z.strictObject({
  apiVersion: z.literal("gateway.networking.k8s.io/v1"),
  kind: z.literal("Gateway"),
  metadata: Metadata,
  spec: z
    .strictObject({
      /** Recorded, not checked: there is no GatewayClass to look up; edgemesh is the one implementation. */
      gatewayClassName: ObjectName,
      listeners: z.array(Listener).min(1).max(64),
    })
    .superRefine((spec, ctx) => {
      const names = new Set<string>();
      const keys = new Map<string, number>();
      spec.listeners.forEach((listener, l) => {
        if (names.has(listener.name)) {
          ctx.addIssue({ code: "custom", path: ["listeners", l, "name"], message: `"${listener.name}" names another listener of this Gateway too` });
        }
        names.add(listener.name);
        // The Gateway API's "distinct listeners": port, protocol and hostname together tell them apart.
        const key = `${listener.port} ${listener.protocol} ${listener.hostname ?? ""}`;
        const first = keys.get(key);
        if (first !== undefined) {
          ctx.addIssue({ code: "custom", path: ["listeners", l], message: `has the same port, protocol and hostname as listeners[${first}]` });
        } else {
          keys.set(key, l);
        }
      });
    }),
});

export type Gateway = z.infer<typeof Gateway>;
export type Listener = z.infer<typeof Listener>;
