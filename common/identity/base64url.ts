/**
 * Base64url (RFC 4648 §5) decoding that accepts only the canonical spelling: the URL-safe alphabet,
 * no padding, no whitespace, and zero bits in the last character's unused low bits. Lenient decoders
 * map several strings to the same bytes, so a token could be altered without touching its signature
 * input as the verifier sees it, or slip past a cache or deny list keyed on its text.
 */

const VALUES = new Int8Array(128).fill(-1);
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

/** The bytes, or undefined for anything but canonical unpadded base64url. */
export function decodeCanonical(text: string): Uint8Array | undefined {
  const length = text.length;
  // One leftover character carries 6 bits: no whole byte, never produced by an encoder.
  if (length % 4 === 1) return undefined;
  const out = new Uint8Array((length * 3) >> 2);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? VALUES[code]! : -1;
    if (value < 0) return undefined;
    acc = (acc << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  // The low bits of the last character are padding: any non-zero value is a second spelling.
  if (acc !== 0) return undefined;
  return out;
}

export function encode(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]!;
  }
  return out;
}
