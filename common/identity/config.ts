/**
 * The mesh's identity settings, read the same way by the issuer and the gateway: the trust domain
 * (MESH_TRUST_DOMAIN), the issuer name tokens carry (`iss`), the gateway's own SPIFFE ID (the
 * audience of tokens sent to the mesh), the issuer's timings, and how often a gateway isolate may ask
 * the issuer for its bundle on an unknown kid.
 */
import { isTrustDomain, MESH_NAMESPACE, spiffeIdOf } from "./spiffe-id.ts";
import { DEFAULT_CLOCK_SKEW_S, DEFAULT_MAX_LIFETIME_S, DEFAULT_REFRESH_INTERVAL_MS } from "./verify.ts";

export const DEFAULT_TRUST_DOMAIN = "edgemesh.local";

export interface IdentityEnv {
  MESH_TRUST_DOMAIN?: string;
  /** Milliseconds a token lives (default 5 min, at most 1 h). */
  MESH_TOKEN_LIFETIME_MS?: string;
  /** Milliseconds a signing key signs before the next one takes over (default 24 h). */
  MESH_KEY_ROTATION_MS?: string;
  /** Milliseconds the next key is published before it signs (default 10 min). */
  MESH_KEY_PREPUBLISH_MS?: string;
  /** The least time, ms, between two unknown-kid bundle refreshes of a gateway isolate (default 10 s, 1 s to 1 h). */
  MESH_KID_REFRESH_INTERVAL_MS?: string;
}

export interface IdentityConfig {
  trustDomain: string;
  /** `iss` of every token the mesh issues: the trust domain's own SPIFFE ID. */
  issuer: string;
  /** The gateway's SPIFFE ID: the audience of tokens a workload sends to the mesh. */
  gatewayId: string;
  tokenLifetimeMs: number;
  rotationMs: number;
  prepublishMs: number;
  clockSkewMs: number;
  /** At most one unknown-kid refresh per this long, per isolate. */
  kidRefreshIntervalMs: number;
}

function duration(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === "") return fallback;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < min || ms > max) throw new Error(`${name} must be a whole number of milliseconds from ${min} to ${max} (got ${JSON.stringify(value)})`);
  return ms;
}

/** The settings; throws with the variable's name on a bad value (a deploy error, not a request's). */
export function identityConfig(env: IdentityEnv): IdentityConfig {
  const trustDomain = env.MESH_TRUST_DOMAIN || DEFAULT_TRUST_DOMAIN;
  if (!isTrustDomain(trustDomain)) throw new Error(`MESH_TRUST_DOMAIN must be a SPIFFE trust domain (lowercase letters, digits, ".", "-", "_"); got ${JSON.stringify(trustDomain)}`);
  const day = 86_400_000;
  return {
    trustDomain,
    issuer: `spiffe://${trustDomain}`,
    gatewayId: spiffeIdOf(trustDomain, MESH_NAMESPACE, "gateway"),
    tokenLifetimeMs: duration(env.MESH_TOKEN_LIFETIME_MS, "MESH_TOKEN_LIFETIME_MS", 300_000, 1_000, DEFAULT_MAX_LIFETIME_S * 1000),
    rotationMs: duration(env.MESH_KEY_ROTATION_MS, "MESH_KEY_ROTATION_MS", day, 1_000, 365 * day),
    prepublishMs: duration(env.MESH_KEY_PREPUBLISH_MS, "MESH_KEY_PREPUBLISH_MS", 600_000, 0, 30 * day),
    clockSkewMs: DEFAULT_CLOCK_SKEW_S * 1000,
    // At least 1 s: tokens with made-up kids must not turn into a call to the one Issuer each.
    kidRefreshIntervalMs: duration(env.MESH_KID_REFRESH_INTERVAL_MS, "MESH_KID_REFRESH_INTERVAL_MS", DEFAULT_REFRESH_INTERVAL_MS, 1_000, 3_600_000),
  };
}
