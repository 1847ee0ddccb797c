/**
 * The signing keys' lifecycle as rules over time, for the Issuer (issuer.ts). Due-time based, so
 * applying them twice or late changes nothing more:
 *  - the next key is made and published MESH_KEY_PREPUBLISH_MS before it starts signing, so every
 *    verifier has it before the first token it signs (Istio's CA publishes a new root the same way);
 *  - it signs for MESH_KEY_ROTATION_MS, then the next key takes over;
 *  - a retired key stays published until every token it signed has expired (plus the clock skew);
 *  - MESH_ISSUER_KEY's pin signs alone, and nothing rotates while it is set.
 */
import type { IdentityConfig } from "../common/identity/config.ts";
import { generateKey, type PrivateKey } from "../common/identity/private-key.ts";
import { publishedUntilOf, type SigningKeys } from "./signing-keys.ts";

const publishedUntil = (row: Parameters<typeof publishedUntilOf>[0], config: IdentityConfig) => publishedUntilOf(row, config.clockSkewMs);

/** Moves every key to the state its due times give it at `now`; the kid whose material the pin replaced, if any. */
export async function advanceKeys(keys: SigningKeys, config: IdentityConfig, pin: PrivateKey | undefined, now: number): Promise<string | undefined> {
  let rows = keys.all();
  const replaced = pin && keys.takePin(pin, now);
  // Any other key stops signing: the pin's, or (once the pin is gone) the formerly pinned one's.
  for (const row of rows) if (row.retired_at === null && (pin ? row.kid !== pin.kid : row.pinned)) keys.retire(row.kid, now);
  rows = keys.all();
  const due = rows.filter((row) => row.retired_at === null && row.activates_at <= now);
  // The newest due key signs; older ones retire at the moment it took over.
  for (const row of due.slice(0, -1)) keys.retire(row.kid, due.at(-1)!.activates_at);
  const signer = due.at(-1);
  if (!pin) {
    const waiting = rows.some((row) => row.retired_at === null && row.activates_at > now);
    if (!signer && !waiting) keys.insert(await generateKey(), now, now);
    else if (signer && !waiting && now >= signer.activates_at + config.rotationMs - config.prepublishMs) {
      keys.insert(await generateKey(), now, Math.max(signer.activates_at + config.rotationMs, now + config.prepublishMs));
    }
  }
  for (const row of keys.all()) if (row.retired_at !== null && publishedUntil(row, config) <= now) keys.remove(row.kid);
  return replaced || undefined;
}

/** When the keys next need `advanceKeys`: a key to activate, a retired one to drop, the next to make. */
export function keyDueTimes(keys: SigningKeys, config: IdentityConfig, pinned: boolean, now: number): number[] {
  const rows = keys.all();
  const due: number[] = [];
  for (const row of rows) {
    if (row.retired_at !== null) due.push(publishedUntil(row, config));
    else if (row.activates_at > now) due.push(row.activates_at);
  }
  const signer = keys.signer(now);
  if (!pinned && signer && !rows.some((row) => row.retired_at === null && row.activates_at > now)) due.push(signer.activates_at + config.rotationMs - config.prepublishMs);
  return due;
}
