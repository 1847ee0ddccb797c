/**
 * The mesh's own identity endpoints on the gateway: `/.well-known/jwks.json` (jwks.ts) and
 * `/edgemesh/token` (token-exchange.ts). Like /admin, they are the mesh's paths on every host unless
 * ADMIN_HOST is set, then only on that host. Recognized off the URL string, so a mesh request pays
 * two `startsWith`, no parse.
 */
import type { GatewayEnv } from "../env.ts";
import { hostnameOf } from "../table/index.ts";
import { serveJwks } from "./jwks.ts";
import type { MeshIdentity } from "./mesh-identity.ts";
import { serveTokenExchange } from "./token-exchange.ts";

export const JWKS_PATH = "/.well-known/jwks.json";
export const TOKEN_PATH = "/edgemesh/token";

type Endpoint = (request: Request, env: GatewayEnv, identity: MeshIdentity) => Promise<Response>;

/** The endpoint the request is for, if it is for one. */
export function identityEndpoint(url: string, adminHost: string | undefined): Endpoint | undefined {
  const hostStart = url.indexOf("//") + 2;
  const pathStart = url.indexOf("/", hostStart);
  if (pathStart < 0) return undefined;
  const endpoint = at(url, pathStart, JWKS_PATH) ? serveJwks : at(url, pathStart, TOKEN_PATH) ? serveTokenExchange : undefined;
  if (!endpoint || (adminHost && hostnameOf(url.slice(hostStart, pathStart)) !== adminHost)) return undefined;
  return endpoint;
}

/** Whether the path at `start` is exactly `path` (a query may follow). */
function at(url: string, start: number, path: string): boolean {
  if (!url.startsWith(path, start)) return false;
  const end = start + path.length;
  return end === url.length || url[end] === "?";
}
