/**
 * SPIFFE IDs as edgemesh names workloads: `spiffe://<trust-domain>/ns/<namespace>/sa/<service>`.
 * Parsed strictly (the SPIFFE ID spec's character sets, nothing decoded, nothing normalized): an ID
 * that is not already in its one canonical spelling is refused, so two spellings can never name the
 * same workload to a policy.
 */

/**
 * The namespace of the mesh's own workloads (Istio's istio-system): the gateway is
 * spiffe://<trust-domain>/ns/edgemesh/sa/gateway, the audience of every token sent to the mesh, so no
 * Backend may take an identity there (policies/schema/backend.ts).
 */
export const MESH_NAMESPACE = "edgemesh";

export interface SpiffeId {
  /** The whole ID, as written. */
  readonly id: string;
  readonly trustDomain: string;
  readonly namespace: string;
  readonly service: string;
}

/** The SPIFFE spec's limit on a whole ID (URI form, bytes; every allowed character is one byte). */
const MAX_ID_LENGTH = 2048;
const MAX_TRUST_DOMAIN_LENGTH = 255;
// Trust domain: lowercase letters, digits, '.', '-', '_' (SPIFFE ID spec 2.1): no port, no user info.
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
// Path segment: letters, digits, '.', '-', '_' (2.2), never "." or ".." and never empty.
const SEGMENT = /^[A-Za-z0-9._-]+$/;

const segmentOk = (segment: string) => SEGMENT.test(segment) && segment !== "." && segment !== "..";

/** The ID's parts, or undefined when it is not exactly a `spiffe://td/ns/<ns>/sa/<service>` ID. */
export function parseSpiffeId(id: string): SpiffeId | undefined {
  if (id.length > MAX_ID_LENGTH || !id.startsWith("spiffe://")) return undefined;
  const parts = id.slice(9).split("/");
  if (parts.length !== 5) return undefined;
  const [trustDomain, ns, namespace, sa, service] = parts as [string, string, string, string, string];
  if (trustDomain.length > MAX_TRUST_DOMAIN_LENGTH || !TRUST_DOMAIN.test(trustDomain)) return undefined;
  if (ns !== "ns" || sa !== "sa" || !segmentOk(namespace) || !segmentOk(service)) return undefined;
  return { id, trustDomain, namespace, service };
}

export const isTrustDomain = (name: string) => name.length <= MAX_TRUST_DOMAIN_LENGTH && TRUST_DOMAIN.test(name);

/** The ID of a service; throws on parts that would not make a valid ID (a caller's bug, not input). */
export function spiffeIdOf(trustDomain: string, namespace: string, service: string): string {
  const id = `spiffe://${trustDomain}/ns/${namespace}/sa/${service}`;
  if (!parseSpiffeId(id)) throw new Error(`not a valid SPIFFE ID: ${JSON.stringify(id)}`);
  return id;
}
