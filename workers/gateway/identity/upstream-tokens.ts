/**
 * Mesh-signed tokens toward upstreams, so a callee can tell a call that came through the mesh (and
 * from whom) from one that did not: for each (caller, destination) pair, a JWT-SVID from the Issuer
 * with `sub` the caller's SPIFFE ID and `aud` the destination's. Signing is the Issuer's (the
 * gateway holds no private key), so tokens are cached per pair and renewed in the background once
 * half their life has passed: a pair costs one Issuer call per half-lifetime, not one per request. A
 * request waits for the Issuer only when its pair has no valid token (its first request), at most
 * ISSUE_WAIT_MS; after a failure the pair goes without a token for RETRY_AFTER_MS rather than wait again.
 * A cached token whose key has left the gateway's trust bundle (revoked) is dropped when that bundle
 * arrives, so verifying upstreams never see it again: one reference compare per request while the
 * bundle stays. Only a bundle at least as new as the token's key counts (the Issuer says which
 * sequence published it): a new key reaches the gateway after the Issuer starts signing with it.
 */
import type { TrustBundle } from "../../../common/identity/bundle.ts";
import { issuerOf } from "../../../common/protocol.ts";
import { LruMap } from "../../../common/lru.ts";
import type { GatewayEnv } from "../env.ts";
import { withTimeout } from "../../../common/with-timeout.ts";

const ISSUE_WAIT_MS = 300;
const ISSUE_TIMEOUT_MS = 2_000;
const RETRY_AFTER_MS = 10_000;
/** A token this close to its expiry is not sent: the callee's clock may be ahead. */
const EXPIRY_MARGIN_MS = 30_000;
/** Callers remembered per destination: bounded, whatever the number of identities. */
const CALLERS_PER_DESTINATION = 1_000;

interface Entry {
  token: string | undefined;
  expiresAt: number;
  renewAt: number;
  retryAt: number;
  pending: Promise<void> | undefined;
  kid: string | undefined;
  /** The bundle sequence that published the token's key: a bundle below it cannot tell. */
  keySequence: number;
  /** The bundle the token's key was last checked against. */
  checkedBundle: TrustBundle | undefined;
}

type Waiter = Pick<ExecutionContext, "waitUntil">;

export class UpstreamTokens {
  private readonly byDestination = new Map<string, LruMap<string, Entry>>();

  constructor(private readonly currentBundle: () => TrustBundle | undefined) {}

  /** The pair's token now, or a promise of it (first use), or undefined (no Issuer, or it failed lately). */
  tokenFor(env: GatewayEnv, waiter: Waiter, caller: string, destination: string): string | undefined | Promise<string | undefined> {
    const issuer = env.ISSUER;
    if (!issuer) return undefined;
    let callers = this.byDestination.get(destination);
    if (!callers) this.byDestination.set(destination, (callers = new LruMap(CALLERS_PER_DESTINATION)));
    let entry = callers.get(caller);
    const now = Date.now();
    if (entry?.token && entry.checkedBundle !== this.currentBundle() && this.keyRevoked(entry)) entry.token = undefined;
    if (entry?.token && now < entry.expiresAt - EXPIRY_MARGIN_MS) {
      if (now >= entry.renewAt && !entry.pending && now >= entry.retryAt) waiter.waitUntil(this.issue(issuer, entry, caller, destination));
      return entry.token;
    }
    if (!entry) callers.set(caller, (entry = { token: undefined, expiresAt: 0, renewAt: 0, retryAt: 0, pending: undefined, kid: undefined, keySequence: Infinity, checkedBundle: undefined }));
    if (now < entry.retryAt) return undefined;
    const pending = entry.pending ?? this.issue(issuer, entry, caller, destination);
    waiter.waitUntil(pending);
    const settled = entry;
    return withTimeout(pending, ISSUE_WAIT_MS).then(
      () => (settled.token && Date.now() < settled.expiresAt - EXPIRY_MARGIN_MS ? settled.token : undefined),
      () => undefined,
    );
  }

  private keyRevoked(entry: Entry): boolean {
    const bundle = (entry.checkedBundle = this.currentBundle());
    return bundle !== undefined && bundle.spiffe_sequence >= entry.keySequence && !bundle.keys.some((key) => key.kid === entry.kid);
  }

  private issue(issuer: NonNullable<GatewayEnv["ISSUER"]>, entry: Entry, caller: string, destination: string): Promise<void> {
    entry.pending = withTimeout(issuerOf(issuer).issue({ subject: caller, audience: destination }), ISSUE_TIMEOUT_MS)
      .then((result) => {
        if (!result.ok) throw new Error(result.message);
        const now = Date.now();
        entry.token = result.token;
        entry.kid = result.kid;
        // An Issuer of the previous deploy says no sequence: its tokens are never taken for revoked.
        entry.keySequence = result.sequence ?? Infinity;
        entry.checkedBundle = undefined;
        entry.expiresAt = result.expiresAt;
        entry.renewAt = now + (result.expiresAt - now) / 2;
      })
      .catch((error) => {
        entry.retryAt = Date.now() + RETRY_AFTER_MS;
        console.error(JSON.stringify({ level: "warn", message: "mesh token for the upstream not issued; sending without one", caller, destination, error: String(error) }));
      })
      .finally(() => (entry.pending = undefined));
    return entry.pending;
  }
}
