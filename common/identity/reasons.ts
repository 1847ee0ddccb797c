/**
 * Why a workload or end-user token was refused: stable codes, as the gateway's error reasons are (logs, counters
 * and tests key on them). Add new ones, never rename.
 */
export const REFUSALS = {
  // The request as a whole.
  missing_token: "no workload token was sent",
  multiple_tokens: "more than one token was sent (a repeated header, or different tokens in the places looked at)",
  token_in_query: "a token was sent in the query string, where logs and caches keep it",
  multiple_identities: "the caller has an identity from its service binding and also sent a token",
  invalid_binding_identity: "the service binding's props do not name a valid identity",
  invalid_credential: "the SPIFFE ID and credential do not match a bootstrap credential",
  // The token's form.
  token_too_large: "the token is larger than the size limit",
  malformed: "the token is not a compact JWS (three base64url parts separated by dots)",
  jwe_not_accepted: "the token is an encrypted JWT (JWE); only signed tokens (JWS) are accepted",
  missing_signature: "the token has no signature",
  non_canonical_encoding: "a part of the token is not canonical unpadded base64url",
  invalid_json: "the token's header or payload is not a JSON object",
  duplicate_key: "the token's header or payload repeats a key",
  too_deeply_nested: "the token's header or payload is nested too deeply",
  // The header.
  header_not_allowed: "the token's header has a parameter other than alg, kid and typ",
  alg_not_allowed: "the token's algorithm is not accepted (workload tokens: ES256, EdDSA; end-user tokens: RS256, PS256, ES256, ES384, EdDSA)",
  invalid_typ: 'the token\'s typ is not "JWT" or "JOSE" (or, for end-user tokens, "at+jwt")',
  missing_kid: "the token's header names no key (kid)",
  invalid_kid: "the token's kid is not a valid key id",
  unknown_kid: "the token's key is not in the trust bundle or the issuer's JWK Set (unknown, rotated out or revoked)",
  key_mismatch: "the token's algorithm does not match its key's",
  bad_signature: "the token's signature does not verify",
  // The claims.
  missing_claim: "the token lacks a required claim",
  invalid_claim: "a claim of the token has the wrong type or form",
  wrong_issuer: "the token's issuer (iss) is not the mesh's, or not one the route accepts",
  wrong_audience: "the token is not for this audience (aud)",
  invalid_subject: "the token's subject (sub) is not a SPIFFE ID of this trust domain",
  expired: "the token has expired",
  issued_in_future: "the token's issued-at time (iat) is in the future",
  not_yet_valid: "the token is not valid yet (nbf)",
  lifetime_too_long: "the token's lifetime (exp - iat) is longer than allowed",
  // End-user tokens (RequestAuthentication).
  no_jwks: "the issuer's keys are not known yet (its JWK Set has not been fetched)",
} as const;

export type Refusal = keyof typeof REFUSALS;
