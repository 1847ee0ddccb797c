/**
 * The demo mesh's workload identities, made fresh by every `npm start`:
 *  - each Node origin that calls through the mesh (reviews v2 and v3 call ratings) gets a bootstrap
 *    credential, 32 random bytes, handed to it in memory; the gateway gets only their SHA-256
 *    (MESH_WORKLOAD_CREDENTIALS), as an operator would deploy it;
 *  - `demo-client`, the identity of whoever follows docs/demo.md with curl, gets one too; its
 *    credential is written to the persist directory (never committed), where `npm run -s demo-token`
 *    reads it to exchange it for a workload token;
 *  - every origin checks the mesh's token on each call (meshVerifier), so a call that did not come
 *    through the gateway is refused with 401.
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import { CALLER_TOKEN_HEADER, meshVerifier, type MeshVerifier } from "../../client/mesh-identity.ts";
import { credentialHash } from "../../common/identity/credentials.ts";
import { sendJson } from "./http.ts";

export const TRUST_DOMAIN = "edgemesh.local";
export const DEMO_CLIENT = "demo-client";
/** demo-client's credential, relative to the repository (in the persist directory, never committed). */
export const DEMO_CLIENT_FILE = ".mesh-state/demo-client.json";

/** A service's SPIFFE ID in the demo's namespace; for an origin, its Backend's name (the audience the mesh signs for). */
export const spiffeId = (service: string) => `spiffe://${TRUST_DOMAIN}/ns/default/sa/${service}`;

export interface Credentials {
  /** SPIFFE ID → secret, for the services themselves. */
  secrets: Map<string, string>;
  /** `{ "<SPIFFE ID>": "sha256:<hex>" }`: MESH_WORKLOAD_CREDENTIALS, for the gateway. */
  hashes: string;
}

export async function makeCredentials(services: string[]): Promise<Credentials> {
  const secrets = new Map(services.map((service) => [spiffeId(service), randomBytes(32).toString("base64url")]));
  const hashes: Record<string, string> = {};
  for (const [id, secret] of secrets) hashes[id] = await credentialHash(secret);
  return { secrets, hashes: JSON.stringify(hashes) };
}

/** The demo client's credential file: `{ gatewayUrl, spiffeId, credential }`, readable by its owner only. */
export async function writeClientCredential(path: string, gatewayUrl: string, id: string, credential: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify({ gatewayUrl, spiffeId: id, credential }) + "\n", { mode: 0o600 });
}

/** How an origin checks that a call came through the mesh, and for it. */
export const originVerifier = (gatewayPort: number, service: string): MeshVerifier =>
  meshVerifier({ jwksUrl: `http://127.0.0.1:${gatewayPort}/.well-known/jwks.json`, audience: spiffeId(service), trustDomain: TRUST_DOMAIN });

export interface MeshCaller {
  /** The caller's SPIFFE ID (the gateway's own for an anonymous caller). */
  id: string;
  /** The signing key of the mesh's token: the demo shows it change across a key rotation. */
  kid: string;
}

/**
 * The caller the mesh vouches for, or undefined after answering 401 in the gateway's error form
 * (the refusal code first in the message, and in WWW-Authenticate).
 */
export async function meshCaller(mesh: MeshVerifier, request: IncomingMessage, response: ServerResponse, headers: Record<string, string>): Promise<MeshCaller | undefined> {
  const result = await mesh.verify(request.headers);
  if (result.ok) return { id: result.token.subject.id, kid: result.token.kid };
  // The shared refusal texts speak of the workload token a caller sends to the mesh; here it is the mesh's.
  const why = result.reason === "missing_token" ? `no ${CALLER_TOKEN_HEADER} was sent` : result.message;
  sendJson(
    response,
    401,
    { error: { status: 401, reason: "unauthenticated", message: `${result.reason}: ${why}; this service takes only calls through the mesh` } },
    { ...headers, "www-authenticate": `Edgemesh-Caller-Token error="${result.reason}"` },
  );
  return undefined;
}
