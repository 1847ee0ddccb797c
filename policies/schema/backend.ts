/**
 * Backend (edgemesh.dev/v1alpha1): a service the mesh routes to. Exactly one of `worker` (a Worker
 * reached through a service binding) or `endpoints` (plain HTTP origins), as a protobuf oneof. An
 * HTTP Backend also says which hosts may register endpoints with it at run time (`registration`).
 */
import { z } from "zod";
import { checkEndpointUrl, hostOf, unsafeHostReason } from "../endpoint-url.ts";
import { parseCidr } from "../ip-address.ts";
import { MESH_NAMESPACE } from "../../common/identity/spiffe-id.ts";
import { Hostname, Metadata } from "./common.ts";

/** An origin that passes the address checks of endpoint-url.ts (no metadata, link-local... hosts). */
export const EndpointUrl = z
  .string()
  .superRefine((url, ctx) => {
    const checked = checkEndpointUrl(url);
    if (!checked.ok) ctx.addIssue({ code: "custom", message: checked.message });
  })
  .meta({ format: "uri", description: 'an origin, "http(s)://host[:port]"; not a metadata, link-local, unspecified or multicast address' });

export const Endpoint = z.strictObject({
  url: EndpointUrl,
  weight: z.int().min(1).max(128).default(1),
  zone: z.string().max(64).optional(),
  version: z.string().max(64).optional(),
});

const AllowedHost = z
  .string()
  .superRefine((host, ctx) => {
    const fail = (message: string) => ctx.addIssue({ code: "custom", message });
    if (!Hostname.safeParse(host).success) {
      return fail('must be a lowercase hostname (optionally starting with "*.") or an IPv4 address; put IPv6 addresses in allowedCIDRs');
    }
    const parsed = hostOf(host);
    if (/\.[0-9]+$|^[0-9]+$/.test(host) && parsed?.kind !== "ipv4") return fail('must be an IPv4 address in dotted decimal, such as "10.0.0.1"');
    const unsafe = parsed && unsafeHostReason(parsed);
    if (unsafe) fail(`must not be ${unsafe}: no endpoint may point at it`);
  })
  .meta({ description: 'a host that may register: "10.0.0.1", "api.internal", or "*.svc.internal" for any name under it' });

const Cidr = z
  .string()
  .superRefine((text, ctx) => {
    const parsed = parseCidr(text);
    if ("error" in parsed) ctx.addIssue({ code: "custom", message: parsed.error });
  })
  .meta({ description: 'a CIDR block whose addresses may register, such as "10.0.0.0/8" or "fd00::/8"' });

/**
 * Who may register endpoints at run time (admin API). Without it, the hosts of the static endpoints
 * may; a Backend with `endpoints: []` and no `registration` takes no registrations. The address checks
 * apply whatever it says: no metadata, link-local or unspecified address ever registers.
 */
export const Registration = z.strictObject({
  allowedHosts: z.array(AllowedHost).max(64).optional(),
  allowedCIDRs: z.array(Cidr).max(64).optional(),
});

/**
 * Who may call the backend, shaped after Istio's PeerAuthentication: STRICT takes only callers with a
 * verified mesh identity (a workload token, or a Worker's service binding); PERMISSIVE (the default,
 * as in Istio, for migration) verifies a token when one is sent and lets anonymous callers through;
 * DISABLE verifies nothing. A token that is sent and fails verification is refused in both STRICT and
 * PERMISSIVE.
 */
export const PEER_AUTHENTICATION_MODES = ["STRICT", "PERMISSIVE", "DISABLE"] as const;
export type PeerAuthenticationMode = (typeof PEER_AUTHENTICATION_MODES)[number];

export const PeerAuthenticationMode = z.strictObject({
  mode: z.enum(PEER_AUTHENTICATION_MODES).meta({ description: "STRICT: a verified mesh identity is required; PERMISSIVE: verified when present; DISABLE: not checked" }),
});

/**
 * Plain http:// to an origin outside loopback crosses the network unencrypted. Encryption in transit is
 * the default a mesh promises, so opting out is explicit, per Backend, as Istio's DestinationRule says
 * it (`tls.mode: DISABLE`): without it, validate warns about such static endpoints and the admin API
 * refuses to register them. DISABLE is the one mode today; https:// endpoints are TLS whatever it says.
 */
export const BackendTls = z.strictObject({
  mode: z.enum(["DISABLE"]).meta({ description: "DISABLE: plain http:// endpoints outside loopback are intended (no TLS in transit)" }),
});

export const Backend = z.strictObject({
  apiVersion: z.literal("edgemesh.dev/v1alpha1"),
  kind: z.literal("Backend"),
  // A Backend's identity is spiffe://<td>/ns/<namespace>/sa/<name>, and the mesh sends it tokens
  // addressed to that identity: one in the mesh's own namespace could be handed tokens addressed to
  // the gateway (edgemesh/gateway), which it could replay to the mesh as their callers.
  metadata: Metadata.refine((metadata) => metadata.namespace !== MESH_NAMESPACE, {
    path: ["namespace"],
    message: `"${MESH_NAMESPACE}" is the mesh's own namespace (its gateway's identity is there): put the Backend in another namespace`,
  }),
  spec: z
    .strictObject({
      worker: z
        .strictObject({
          service: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "must be a service binding name such as RATINGS" }),
        })
        .optional(),
      /** Static endpoints; [] when every endpoint registers at run time (admin API). */
      endpoints: z.array(Endpoint).max(256).optional(),
      registration: Registration.optional(),
      /** Wins over every PeerAuthentication; without it, the most specific one's mode, else PERMISSIVE. */
      peerAuthentication: PeerAuthenticationMode.optional(),
      /** Leave out unless plain http:// endpoints outside loopback are intended. */
      tls: BackendTls.optional(),
    })
    .superRefine((spec, ctx) => {
      if (!spec.worker === !spec.endpoints) {
        ctx.addIssue({ code: "custom", path: [], message: "must set exactly one of worker or endpoints" });
      }
      if (spec.worker && spec.registration) {
        ctx.addIssue({ code: "custom", path: ["registration"], message: "applies only to a Backend with endpoints: a Worker backend takes no registrations" });
      }
      if (spec.worker && spec.tls) {
        ctx.addIssue({ code: "custom", path: ["tls"], message: "applies only to a Backend with endpoints: a Worker backend is reached over a service binding, not the network" });
      }
    }),
});

export type Backend = z.infer<typeof Backend>;
export type Endpoint = z.infer<typeof Endpoint>;
