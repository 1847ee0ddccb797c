/**
 * Path normalization, so that routes match the path exactly as the upstream will see it: the normal
 * form of common/normal-path.ts (repeated slashes merged, unreserved escapes decoded), and 400 for an
 * encoded slash or backslash.
 */
import { normalPath } from "../../../common/normal-path.ts";
import type { Stage } from "../context.ts";
import { MeshError } from "../errors.ts";

export function normalizePathname(pathname: string): string {
  const normal = normalPath(pathname);
  if (normal === undefined) throw new MeshError("invalid_request", "the path contains an encoded slash or backslash (%2F, %5C)");
  return normal;
}

export const normalizePath: Stage = {
  request(x) {
    x.upstream.path = normalizePathname(x.upstream.path);
    return undefined;
  },
};
