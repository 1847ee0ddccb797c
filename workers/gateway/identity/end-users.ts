/**
 * What an isolate keeps for end-user authentication across table versions: the issuers' keys by
 * jwksUri (they reach it in the configuration snapshot, as the trust bundle does; nothing fetches
 * them on the request path), and the verifiers with their caches of verified tokens, one per
 * (issuer, audiences, keys), so a new table version does not verify every token again.
 *
 * A jwksUri's keys are replaced only by a newer set (by the ConfigStore's sequence). The store keeps
 * the last good keys of every URI the configuration names, so a snapshot without a URI's set means
 * the URI is no longer named (or never fetched): its keys are forgotten here too, and a URI named
 * again starts with none, never with keys of long ago its issuer may have revoked since. An unknown kid may ask the ConfigStore to fetch the set again,
 * in the background and at most once per REFRESH_GAP_MS per URI: the request itself is refused (401)
 * and never waits for it.
 */
import { KeySet, type VerifyKey } from "../../../common/identity/bundle.ts";
import { endUserKeySet, type PublicJwk } from "../../../common/identity/jwk-set.ts";
import { endUserVerifierOptions, Verifier } from "../../../common/identity/verify.ts";
import { LruMap } from "../../../common/lru.ts";
import { configStoreOf, type PublishedJwks } from "../../../common/protocol.ts";
import type { GatewayEnv } from "../env.ts";
import { withTimeout } from "../../../common/with-timeout.ts";

/** An isolate asks for a URI's keys again at most this often. */
const REFRESH_GAP_MS = 30_000;
const REFRESH_TIMEOUT_MS = 2_000;
/** Distinct (issuer, audiences, keys) verifiers an isolate keeps; each caches up to 10 000 tokens. */
const MAX_VERIFIERS = 256;

export class EndUserKeys {
  private readonly remote = new Map<string, KeySet<PublicJwk>>();
  private readonly verifiers = new LruMap<string, Verifier<string>>(MAX_VERIFIERS);
  private readonly askedAt = new Map<string, number>();

  /** A snapshot's JWK Sets; each replaces a URI's keys only when its sequence is higher; a URI without one is forgotten. */
  takeJwks(sets: Readonly<Record<string, PublishedJwks>>): void {
    for (const [uri, keys] of this.remote) if (!Object.hasOwn(sets, uri) && keys.size) keys.clear();
    for (const [uri, set] of Object.entries(sets)) this.keysOf(uri).update({ keys: set.keys, spiffe_sequence: set.sequence });
  }

  /** The keys of a jwksUri (empty until a snapshot brings them). */
  keysOf(uri: string): KeySet<PublicJwk> {
    let keys = this.remote.get(uri);
    if (!keys) this.remote.set(uri, (keys = endUserKeySet()));
    return keys;
  }

  /** The verifier for one jwtRule: `jwks` inline, or the keys the control plane fetched from `jwksUri`. */
  verifierFor(issuer: string, audiences: readonly string[], source: { jwks: { keys: unknown[] } } | { jwksUri: string }): Verifier<string> {
    const id = JSON.stringify([issuer, [...audiences].sort(), source]);
    let verifier = this.verifiers.get(id);
    if (!verifier) {
      let keys: KeySet<PublicJwk>;
      if ("jwksUri" in source) keys = this.keysOf(source.jwksUri);
      else keys = endUserKeySet(), keys.update({ keys: source.jwks.keys, spiffe_sequence: 0 });
      verifier = new Verifier<string>(endUserVerifierOptions(issuer, audiences), keys as unknown as KeySet<VerifyKey>);
      this.verifiers.set(id, verifier);
    }
    return verifier;
  }

  /**
   * Asks the ConfigStore to fetch a jwksUri again, after an unknown kid: at most once per gap per URI,
   * for `ctx.waitUntil` (the answer comes with a later snapshot). Undefined when not asked (too soon,
   * or no control plane: a bare bundle verifies inline keys only).
   */
  requestRefresh(env: GatewayEnv, uri: string, now = Date.now()): Promise<void> | undefined {
    if (!env.CONFIG_STORE || now - (this.askedAt.get(uri) ?? -Infinity) < REFRESH_GAP_MS) return undefined;
    this.askedAt.set(uri, now);
    return withTimeout(configStoreOf(env.CONFIG_STORE).refreshJwks(uri), REFRESH_TIMEOUT_MS).then(
      () => undefined,
      (error: unknown) => console.error(JSON.stringify({ level: "warn", message: "JWKS refresh request failed", uri, error: String(error) })),
    );
  }
}
