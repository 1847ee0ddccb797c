/**
 * A workload token from the mesh's own Issuer, got the way an HTTP origin gets one: a bootstrap
 * credential for the subject (made at run time, as `POST /admin/identity/credentials` does),
 * exchanged for a token addressed to the gateway. The Issuer signs tokens for the mesh only in
 * exchange for a credential (its `issue` refuses the gateway's audience). The credential is deleted
 * once used, so a test's listing of credentials sees only its own; the token stays valid.
 */
import { decodeProtectedHeader } from "jose";
import type { CreateCredentialResult, ExchangeResult } from "../../common/protocol.ts";

type IssuerStub = Record<string, (...args: unknown[]) => Promise<unknown>>;

export async function exchangedToken(issuer: IssuerStub, subject: string): Promise<{ token: string; expiresAt: number; kid: string }> {
  let created = (await issuer.createCredential!(subject)) as CreateCredentialResult;
  if (!created.ok && created.reason === "credential_exists") {
    await issuer.deleteCredential!(subject);
    created = (await issuer.createCredential!(subject)) as CreateCredentialResult;
  }
  if (!created.ok) throw new Error(created.message);
  const exchanged = (await issuer.exchange!({ subject, credential: created.secret })) as ExchangeResult;
  await issuer.deleteCredential!(subject);
  if (!exchanged.ok) throw new Error(exchanged.message);
  return { token: exchanged.token, expiresAt: exchanged.expiresAt, kid: decodeProtectedHeader(exchanged.token).kid! };
}
