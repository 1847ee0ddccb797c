/**
 * The one shape of a JWT-SVID the mesh signs (SPIFFE JWT-SVID profile): header alg, kid and typ;
 * claims iss, sub (the SPIFFE ID), one aud, iat, exp and jti. The jti is 16 random bytes (22
 * characters, not a 36-character UUID): every token rides every hop, and each byte costs there
 * (README, "Identity").
 */
import { SignJWT } from "jose";
import { encode } from "./base64url.ts";
import type { SigningAlgorithm } from "./bundle.ts";

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
