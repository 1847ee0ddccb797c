/**
 * The mesh's own headers, like Envoy's x-envoy-*: they belong to the hop that sets them. Whatever a
 * client or an upstream sends under the prefix is removed before the mesh sets its own, so a client
 * cannot speak for the mesh to an upstream (x-edgemesh-endpoint, -attempts) nor an upstream to the
 * client (x-edgemesh-reason).
 */
export const MESH_HEADER_PREFIX = "x-edgemesh-";
/** The reason code of an answer the mesh made up itself (errors.ts). */
export const REASON_HEADER = `${MESH_HEADER_PREFIX}reason`;
/** How many attempts a proxied answer took (Envoy's x-envoy-attempt-count). */
export const ATTEMPTS_HEADER = `${MESH_HEADER_PREFIX}attempts`;
