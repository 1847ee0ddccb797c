/**
 * The one shape of a JWT-SVID the mesh signs (SPIFFE JWT-SVID profile): header alg, kid and typ;
 * claims iss, sub (the SPIFFE ID), one aud, iat, exp and jti. The jti is 16 random bytes (22
 * characters, not a 36-character UUID): every token rides every hop, and each byte costs there
 * (README, "Identity"). Also the check of a request for one (checkIssueRequest, the Issuer's).
 */
import { SignJWT } from "jose";
import type { IssueRequest } from "../protocol.ts";
import { encode } from "./base64url.ts";
import type { SigningAlgorithm } from "./bundle.ts";
import type { IdentityConfig } from "./config.ts";
import { parseSpiffeId } from "./spiffe-id.ts";

export interface SvidClaims {
  issuer: string;
  subject: string;
  audience: string;
  /** Epoch seconds. */
  issuedAt: number;
  /** Epoch seconds. */
  expiresAt: number;
}

const newJti = (): string => encode(crypto.getRandomValues(new Uint8Array(16)));

export function signSvid(key: { alg: SigningAlgorithm; kid: string; signingKey: CryptoKey }, claims: SvidClaims): Promise<string> {
  return new SignJWT({ jti: newJti() })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
    .setIssuer(claims.issuer)
    .setSubject(claims.subject)
    .setAudience(claims.audience)
    .setIssuedAt(claims.issuedAt)
    .setExpirationTime(claims.expiresAt)
    .sign(key.signingKey);
}

const MAX_AUDIENCE_LENGTH = 2048;

/** An Issuer's `issue` request (it comes over RPC) as what to sign, or why it is refused. */
export function checkIssueRequest(config: IdentityConfig, request: IssueRequest): { subject: string; audience: string; lifetimeMs: number } | string {
  const subject = parseSpiffeId(request.subject);
  if (!subject || subject.trustDomain !== config.trustDomain) return `subject must be a SPIFFE ID spiffe://${config.trustDomain}/ns/<namespace>/sa/<service>`;
  const { audience } = request;
  if (typeof audience !== "string" || !audience || audience.length > MAX_AUDIENCE_LENGTH || /[\u0000-\u001f\u007f]/.test(audience)) {
    return `audience must be a non-empty string of at most ${MAX_AUDIENCE_LENGTH} characters without control characters`;
  }
  // Tokens for the mesh itself come only from exchange() (a proven credential): a caller token
  // addressed to the gateway would let whoever receives it speak to the mesh as its caller.
  if (audience === config.gatewayId) return `audience must not be the gateway's own SPIFFE ID (${config.gatewayId}): workloads get tokens for the mesh by exchanging their credential`;
  const lifetimeMs = request.lifetimeMs ?? config.tokenLifetimeMs;
  if (!Number.isInteger(lifetimeMs) || lifetimeMs < 1000 || lifetimeMs > config.tokenLifetimeMs) return `lifetimeMs must be from 1000 to ${config.tokenLifetimeMs}`;
  return { subject: subject.id, audience, lifetimeMs };
}
