/**
 * Bootstrap credentials of HTTP origins: a per-service secret the operator generates and gives the
 * origin, while the mesh keeps only its SHA-256 (MESH_WORKLOAD_CREDENTIALS, a secret holding
 * `{ "<SPIFFE ID>": "sha256:<hex>" }`, or the Issuer's storage for credentials made at run time
 * through the admin API). The origin exchanges the secret for a short-lived workload
 * token. Secrets must be at least 32 characters of random (e.g. `openssl rand -base64 32`): at that
 * entropy a fast hash is as safe as a slow one, and exchanges stay cheap.
 */
import { encode } from "./base64url.ts";

export const MIN_SECRET_LENGTH = 32;

export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The stored form of a secret, for the operator: `sha256:<hex>`. */
export const credentialHash = async (secret: string) => `sha256:${await sha256Hex(secret)}`;

/** A fresh secret (256 bits, base64url). */
export const generateSecret = () => encode(crypto.getRandomValues(new Uint8Array(32)));

/** SPIFFE ID → stored hash; throws naming what is wrong (a deploy error). */
export function parseCredentials(json: string | undefined): Map<string, string> {
  const credentials = new Map<string, string>();
  if (!json) return credentials;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error("MESH_WORKLOAD_CREDENTIALS is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error('MESH_WORKLOAD_CREDENTIALS must be an object { "<SPIFFE ID>": "sha256:<hex>" }');
  for (const [id, hash] of Object.entries(parsed)) {
    if (typeof hash !== "string" || !/^sha256:[0-9a-f]{64}$/.test(hash)) throw new Error(`MESH_WORKLOAD_CREDENTIALS: the value for ${JSON.stringify(id)} must be "sha256:" and 64 lowercase hex digits`);
    credentials.set(id, hash);
  }
  return credentials;
}

/** Whether `secret` matches the stored hash, comparing in time that does not depend on where they differ. */
export const credentialMatches = (secret: string, stored: string | undefined) => credentialMatchesAny(secret, stored === undefined ? [] : [stored]);

/** Whether `secret` matches any of the stored hashes (a workload's credential may be in the secret and in the Issuer's storage). */
export async function credentialMatchesAny(secret: string, stored: readonly string[]): Promise<boolean> {
  // Hashed even when there is nothing to compare with, so an unknown service costs what a known one does.
  const actual = await credentialHash(secret);
  let matched = false;
  for (const expected of stored.length ? stored : ["sha256:" + "0".repeat(64)]) {
    let difference = actual.length ^ expected.length;
    for (let i = 0; i < Math.min(actual.length, expected.length); i++) difference |= actual.charCodeAt(i) ^ expected.charCodeAt(i);
    matched ||= difference === 0;
  }
  return stored.length > 0 && matched && secret.length >= MIN_SECRET_LENGTH;
}
