/**
 * An isolate's end-user keys (workers/gateway/identity/end-users.ts): a jwksUri's keys are replaced
 * only by a newer set from the snapshot, and an unknown kid asks the ConfigStore to fetch again at
 * most once per 30 s per URI, never without a control plane.
 */
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { EndUserKeys } from "../../../workers/gateway/identity/end-users.ts";
import type { GatewayEnv } from "../../../workers/gateway/env.ts";

const URI = "https://idp.example/jwks";
let one: JWK;
let two: JWK;

beforeAll(async () => {
  const jwk = async (kid: string) => ({ ...(await exportJWK((await generateKeyPair("ES256", { extractable: true })).publicKey)), kid, alg: "ES256" });
  [one, two] = await Promise.all([jwk("one"), jwk("two")]);
});

/** An env whose CONFIG_STORE counts refreshJwks calls. */
function envWithStore() {
  const asked: string[] = [];
  const store = { refreshJwks: async (uri: string) => (asked.push(uri), true) };
  const namespace = { idFromName: () => "id", get: () => store };
  return { env: { CONFIG_STORE: namespace } as unknown as GatewayEnv, asked };
}

describe("EndUserKeys", () => {
  it("takes a URI's keys from a snapshot only when they are newer", () => {
    const keys = new EndUserKeys();
    keys.takeJwks({ [URI]: { keys: [one] as never, sequence: 2, fetchedAt: 0 } });
    expect(keys.keysOf(URI).has("one")).toBe(true);
    keys.takeJwks({ [URI]: { keys: [two] as never, sequence: 1, fetchedAt: 0 } });
    expect(keys.keysOf(URI).has("one")).toBe(true);
    keys.takeJwks({ [URI]: { keys: [two] as never, sequence: 3, fetchedAt: 0 } });
    expect([keys.keysOf(URI).has("one"), keys.keysOf(URI).has("two")]).toEqual([false, true]);
    // A verifier for the URI sees the same keys, and is shared by rules with the same issuer and audiences.
    const verifier = keys.verifierFor("https://idp.example", ["b", "a"], { jwksUri: URI });
    expect(verifier.keys.has("two")).toBe(true);
    expect(keys.verifierFor("https://idp.example", ["a", "b"], { jwksUri: URI })).toBe(verifier);
  });

  it("forgets a URI's keys when a snapshot no longer carries them, and then takes the next set whatever its sequence", () => {
    const keys = new EndUserKeys();
    keys.takeJwks({ [URI]: { keys: [one] as never, sequence: 5, fetchedAt: 0 } });
    const verifier = keys.verifierFor("https://idp.example", ["a"], { jwksUri: URI });
    expect(verifier.keys.has("one")).toBe(true);
    // The URI left the configuration (or was named again and not fetched yet): no keys, not the old ones.
    keys.takeJwks({});
    expect(verifier.keys.has("one")).toBe(false);
    keys.takeJwks({ [URI]: { keys: [two] as never, sequence: 1, fetchedAt: 0 } });
    expect(verifier.keys.has("two")).toBe(true);
  });

  it("asks the ConfigStore at most once per 30 s per URI, and never without one", async () => {
    const keys = new EndUserKeys();
    const { env, asked } = envWithStore();
    await keys.requestRefresh(env, URI, 1_000_000);
    expect(keys.requestRefresh(env, URI, 1_010_000)).toBeUndefined();
    await keys.requestRefresh(env, "https://other.example/jwks", 1_010_000);
    await keys.requestRefresh(env, URI, 1_031_000);
    expect(asked).toEqual([URI, "https://other.example/jwks", URI]);
    expect(keys.requestRefresh({} as GatewayEnv, URI, 2_000_000)).toBeUndefined();
  });
});
