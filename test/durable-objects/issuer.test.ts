/// <reference types="@cloudflare/vitest-pool-workers/types" />
/**
 * The Issuer in workerd: tokens it signs verify against its bundle; its alarm pre-publishes, switches
 * and drops keys (fired twice, it changes nothing); revocation takes a key out at once. Time is moved
 * by rewriting the stored due times into the past, then firing the alarm as the platform would.
 * (The pinned key, MESH_ISSUER_KEY, is a per-deploy secret: test/control-plane/identity-bundle.test.ts.)
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import type { TrustBundle } from "../../common/identity/bundle.ts";
import { Verifier } from "../../common/identity/verify.ts";
import type { IssuerApi } from "../../common/protocol.ts";
import { pinnedKey, type PrivateKey } from "../../common/identity/private-key.ts";

const TD = "edgemesh.local";
const GATEWAY = `spiffe://${TD}/ns/edgemesh/sa/gateway`;
/** What the gateway asks the Issuer for: caller tokens addressed to a backend. */
const DESTINATION = `spiffe://${TD}/ns/default/sa/details`;
const CALLER = `spiffe://${TD}/ns/default/sa/productpage`;
const ROTATION_MS = 86_400_000;
const PREPUBLISH_MS = 600_000;

const issuerNamed = (name: string) => {
  const stub = env.ISSUER.get(env.ISSUER.idFromName(name));
  return { stub, api: stub as unknown as IssuerApi };
};

const sql = (stub: DurableObjectStub, query: string, ...bindings: SqlStorageValue[]) =>
  runInDurableObject(stub, (_object, state) => void state.storage.sql.exec(query, ...bindings).toArray());

const alarmOf = (stub: DurableObjectStub) => runInDurableObject(stub, (_object, state) => state.storage.getAlarm());

/** Fires the alarm handler now, as a (possibly duplicate) delivery would. */
async function fire(stub: DurableObjectStub): Promise<void> {
  await runInDurableObject(stub, (_object, state) => state.storage.setAlarm(Date.now() + 60_000));
  expect(await runDurableObjectAlarm(stub)).toBe(true);
}

function verifierFor(bundle: TrustBundle): Verifier {
  const verifier = new Verifier({ issuer: `spiffe://${TD}`, audience: DESTINATION, trustDomain: TD });
  verifier.keys.update(bundle);
  return verifier;
}

const issue = async (api: IssuerApi) => {
  const result = await api.issue({ subject: CALLER, audience: DESTINATION });
  if (!result.ok) throw new Error(result.message);
  return result;
};

describe("Issuer", () => {
  it("issues JWT-SVIDs that verify against its bundle, and refuses bad requests", async () => {
    const { api } = issuerNamed("issue");
    const issued = await issue(api);
    // The JWT-SVID shape the issue names, nothing more: the token travels on every hop.
    expect(decodeProtectedHeader(issued.token)).toEqual({ alg: "ES256", kid: issued.kid, typ: "JWT" });
    expect(issued.kid).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const claims = decodeJwt(issued.token);
    expect(Object.keys(claims).sort()).toEqual(["aud", "exp", "iat", "iss", "jti", "sub"]);
    expect(claims.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(decodeJwt((await issue(api)).token).jti).not.toBe(claims.jti);
    expect(claims).toMatchObject({ iss: `spiffe://${TD}`, sub: CALLER, aud: DESTINATION });
    expect(claims.exp! - claims.iat!).toBe(300);
    expect(issued.expiresAt).toBe(claims.exp! * 1000);

    const bundle = await api.bundle();
    expect(bundle.spiffe_refresh_hint).toBe(300);
    expect(bundle.keys).toHaveLength(1);
    expect(bundle.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", kid: issued.kid, alg: "ES256", use: "jwt-svid" });
    expect(bundle.keys[0]).not.toHaveProperty("d");
    const verified = await verifierFor(bundle).verify(issued.token);
    expect(verified.ok && verified.token.subject.id).toBe(CALLER);
    expect((await issue(api)).token).not.toBe(issued.token);

    expect(await api.issue({ subject: "spiffe://other.test/ns/default/sa/x", audience: DESTINATION })).toMatchObject({ ok: false, status: 400, message: `subject must be a SPIFFE ID spiffe://${TD}/ns/<namespace>/sa/<service>` });
    expect(await api.issue({ subject: CALLER, audience: "" })).toMatchObject({ ok: false, status: 400 });
    expect(await api.issue({ subject: CALLER, audience: DESTINATION, lifetimeMs: 300_001 })).toMatchObject({ ok: false, message: "lifetimeMs must be from 1000 to 300000" });
    expect((await api.issue({ subject: CALLER, audience: DESTINATION, lifetimeMs: 60_000 })).ok).toBe(true);
    // A token addressed to the mesh is a credential toward it: only exchange() makes one.
    expect(await api.issue({ subject: CALLER, audience: GATEWAY })).toMatchObject({ ok: false, status: 400, message: expect.stringContaining("must not be the gateway's own SPIFFE ID") });
  });

  it("rotates by alarm: publishes the next key ahead, switches, drops the old one once its tokens expired; firing twice changes nothing", async () => {
    const { stub, api } = issuerNamed("rotation");
    const first = await api.bundle();
    const [a] = await api.keyInfo();
    expect(a).toMatchObject({ state: "signing", pinned: false, retiredAt: null });
    // The only thing due: publishing the next key, pre-publication before the rotation.
    expect(await alarmOf(stub)).toBe(a!.activatesAt + ROTATION_MS - PREPUBLISH_MS);
    const old = await issue(api);

    // A day later: the alarm publishes key B, which signs only after the pre-publication time.
    await sql(stub, "UPDATE signing_keys SET activates_at = activates_at - ?", ROTATION_MS);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const published = await api.keyInfo();
    expect(published.map((key) => key.state)).toEqual(["signing", "published"]);
    const b = published[1]!;
    expect(b.activatesAt - b.createdAt).toBe(PREPUBLISH_MS);
    const withB = await api.bundle();
    expect(withB.spiffe_sequence).toBeGreaterThan(first.spiffe_sequence);
    expect(withB.keys.map((key) => key.kid)).toEqual([a!.kid, b.kid]);
    expect(await alarmOf(stub)).toBe(b.activatesAt);
    expect((await issue(api)).kid).toBe(a!.kid);
    await fire(stub);
    expect(await api.keyInfo()).toEqual(published);
    expect((await api.bundle()).spiffe_sequence).toBe(withB.spiffe_sequence);

    // B's time comes: B signs, A is retired but stays published until its last token (+ 60 s skew).
    await sql(stub, "UPDATE signing_keys SET activates_at = activates_at - ? WHERE kid = ?", PREPUBLISH_MS, b.kid);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const switched = await api.keyInfo();
    expect(switched.map((key) => [key.kid, key.state])).toEqual([[a!.kid, "retired"], [b.kid, "signing"]]);
    const lastOfA = Math.max(...[old].map((token) => token.expiresAt));
    expect(switched[0]!.publishedUntil).toBeGreaterThanOrEqual(lastOfA + 60_000);
    const fresh = await issue(api);
    expect(fresh.kid).toBe(b.kid);
    const both = verifierFor(await api.bundle());
    expect((await both.verify(old.token)).ok).toBe(true);
    expect((await both.verify(fresh.token)).ok).toBe(true);
    expect(await alarmOf(stub)).toBe(switched[0]!.publishedUntil);
    await fire(stub);
    expect(await api.keyInfo()).toEqual(switched);

    // Every token of A has expired: A leaves the bundle; its tokens no longer verify.
    await sql(stub, "UPDATE signing_keys SET last_exp = 0, retired_at = ? WHERE kid = ?", Date.now() - 120_000, a!.kid);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await api.bundle();
    expect(after.keys.map((key) => key.kid)).toEqual([b.kid]);
    expect(after.spiffe_sequence).toBeGreaterThan(withB.spiffe_sequence);
    const onlyB = verifierFor(after);
    expect(await onlyB.verify(old.token)).toMatchObject({ ok: false, reason: "unknown_kid" });
    expect((await onlyB.verify(fresh.token)).ok).toBe(true);
    await fire(stub);
    expect((await api.bundle()).spiffe_sequence).toBe(after.spiffe_sequence);
    // B's own rotation is the next thing due.
    expect(await alarmOf(stub)).toBe((await api.keyInfo())[0]!.activatesAt + ROTATION_MS - PREPUBLISH_MS);
  });

  it("revokes a key at once: a signing key is replaced by one that signs at once", async () => {
    const { api } = issuerNamed("revocation");
    const before = await issue(api);
    const revoked = await api.revoke(before.kid);
    expect(revoked.ok).toBe(true);
    const keys = revoked.ok ? revoked.keys : [];
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ state: "signing" });
    expect(keys[0]!.kid).not.toBe(before.kid);
    const bundle = await api.bundle();
    expect(bundle.keys.map((key) => key.kid)).toEqual([keys[0]!.kid]);
    const verifier = verifierFor(bundle);
    expect(await verifier.verify(before.token)).toMatchObject({ ok: false, reason: "unknown_kid" });
    const after = await issue(api);
    expect(after.kid).toBe(keys[0]!.kid);
    expect((await verifier.verify(after.token)).ok).toBe(true);
    expect(await api.revoke(before.kid)).toEqual({ ok: false, status: 404, reason: "not_found", message: `no published key has kid ${JSON.stringify(before.kid)}` });
  });

  it("revoking the signing key while the next one is published makes that one sign at once", async () => {
    const { api } = issuerNamed("revoke-promotes");
    const before = await issue(api);
    const [, next] = await api.rotate();
    const revoked = await api.revoke(before.kid);
    expect(revoked.ok && revoked.keys.map((key) => [key.kid, key.state])).toEqual([[next!.kid, "signing"]]);
    expect((await issue(api)).kid).toBe(next!.kid);
  });

  it("revoking a key that only waits to sign leaves the signing key alone", async () => {
    const { api } = issuerNamed("revoke-published");
    const signing = await issue(api);
    const [, next] = await api.rotate();
    expect(next).toMatchObject({ state: "published" });
    expect(await api.rotate()).toHaveLength(2);
    const revoked = await api.revoke(next!.kid);
    expect(revoked.ok && revoked.keys.map((key) => [key.kid, key.state])).toEqual([[signing.kid, "signing"]]);
    expect((await issue(api)).kid).toBe(signing.kid);
  });

  it("numbers a bundle no lower than the clock: a storage restored from an older copy cannot fall behind what verifiers hold", async () => {
    const { stub, api } = issuerNamed("sequence");
    await issue(api);
    const seen = (await api.bundle()).spiffe_sequence;
    expect(seen).toBeGreaterThanOrEqual(Date.now() - 60_000);
    // As if restored from a backup: the counter is back at 1, and the next change numbers past it anyway.
    await sql(stub, "UPDATE meta SET value = '1' WHERE key = 'sequence'");
    await api.rotate();
    expect((await api.bundle()).spiffe_sequence).toBeGreaterThan(seen);
  });

  it("follows MESH_ISSUER_KEY across deploys: a new pin signs, the old one is an ordinary key, a pin set back signs again, a reused kid takes the new material", async () => {
    const { stub, api } = issuerNamed("repin");
    const secret = async (kid?: string) => JSON.stringify({ ...(await exportJWK((await generateKeyPair("ES256", { extractable: true })).privateKey)), ...(kid && { kid }) });
    // A deploy with another secret: the object's pinned key, as its constructor would read it.
    const deploy = (text: string) => runInDurableObject(stub, (object) => void ((object as unknown as { pinned: Promise<PrivateKey> }).pinned = pinnedKey(text)));
    const [a, b] = [await secret(), await secret()];
    const [kidA, kidB] = [(await pinnedKey(a)).kid, (await pinnedKey(b)).kid];
    await deploy(a);
    expect((await issue(api)).kid).toBe(kidA);
    await deploy(b);
    expect((await issue(api)).kid).toBe(kidB);
    expect((await api.keyInfo()).map((key) => [key.kid, key.state])).toEqual([[kidA, "retired"], [kidB, "signing"]]);
    // Set back to A while A is still published: A signs again (not "no signing key").
    await deploy(a);
    expect((await issue(api)).kid).toBe(kidA);
    // B is pinned no more: it can be revoked; A, pinned now, cannot.
    expect((await api.revoke(kidB)).ok).toBe(true);
    expect(await api.revoke(kidA)).toMatchObject({ ok: false, status: 409, reason: "key_pinned" });
    // A replaced secret whose JWK names the same kid: the new material signs and is published, the old is gone.
    const replaced = await secret(kidA);
    await deploy(replaced);
    const token = await issue(api);
    expect(token.kid).toBe(kidA);
    const bundle = await api.bundle();
    expect(bundle.keys.map((key) => (key as { x: string }).x)).toEqual([(await pinnedKey(replaced)).publicJwk.x]);
    expect((await verifierFor(bundle).verify(token.token)).ok).toBe(true);
  });

  it("keeps its keys across a restart of the object (the private JWK is stored)", async () => {
    const { stub, api } = issuerNamed("restart");
    const before = await issue(api);
    // A new instance over the same storage, as after an eviction.
    await runInDurableObject(stub, (_object, state) => {
      const rows = state.storage.sql.exec<{ private_jwk: string }>("SELECT private_jwk FROM signing_keys").toArray();
      expect(JSON.parse(rows[0]!.private_jwk)).toHaveProperty("d");
    });
    await runInDurableObject(stub, (object) => void ((object as unknown as { marked: boolean }).marked = true));
    await runInDurableObject(stub, (_object, state) => state.abort("restart")).catch(() => undefined);
    const { stub: stubAgain, api: again } = issuerNamed("restart");
    expect(await runInDurableObject(stubAgain, (object) => (object as unknown as { marked?: boolean }).marked)).toBeUndefined();
    expect((await issue(again)).kid).toBe(before.kid);
  });
});
