/**
 * IPv4 and IPv6 addresses as numbers, and CIDR blocks: the arithmetic of the endpoint address checks
 * (endpoint-url.ts), and the one parser of AuthorizationPolicy's ipBlocks, for validation and
 * evaluation alike (workers/gateway/ratelimit/cidr.ts), so a block that validates is one that matches.
 * Text forms are strict (dotted decimal without leading zeros, RFC 4291 IPv6 with an optional dotted
 * IPv4 tail, no zone): lenient spellings are the URL parser's business, which normalizes them before
 * these functions see a URL's host.
 */

export type IpVersion = 4 | 6;

export interface IpAddress {
  version: IpVersion;
  value: bigint;
}

export interface Cidr {
  version: IpVersion;
  network: bigint;
  prefix: number;
}

const OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const GROUP = /^[0-9a-f]{1,4}$/i;

export function parseIPv4(text: string): bigint | undefined {
  if (!IPV4.test(text)) return undefined;
  return text.split(".").reduce((value, octet) => (value << 8n) | BigInt(octet), 0n);
}

export function parseIPv6(text: string): bigint | undefined {
  let head = text;
  let tail = 0n;
  if (text.includes(".")) {
    // A dotted IPv4 tail stands for the last two groups ("::ffff:169.254.169.254").
    const colon = text.lastIndexOf(":");
    const v4 = colon < 0 ? undefined : parseIPv4(text.slice(colon + 1));
    if (v4 === undefined) return undefined;
    head = `${text.slice(0, colon + 1)}0:0`;
    tail = v4;
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":"));
  const left = groupsOf(halves[0]!);
  const right = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (halves.length === 1 ? left.length !== 8 : left.length + right.length > 7) return undefined;
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  if (!groups.every((group) => GROUP.test(group))) return undefined;
  return groups.reduce((value, group) => (value << 16n) | BigInt(`0x${group}`), 0n) | tail;
}

export function parseIp(text: string): IpAddress | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { version: 4, value: v4 };
  const v6 = text.includes(":") ? parseIPv6(text) : undefined;
  return v6 === undefined ? undefined : { version: 6, value: v6 };
}

export const bitsOf = (version: IpVersion) => (version === 4 ? 32 : 128);

export function formatIPv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join(".");
}

/** A CIDR block such as "10.0.0.0/8" or "fd00::/8", or why the text is not one. */
export function parseCidr(text: string): Cidr | { error: string } {
  const example = 'must be a CIDR block such as "10.0.0.0/8" or "fd00::/8"';
  const [address, prefixText, extra] = text.split("/");
  if (extra !== undefined || prefixText === undefined || !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return { error: example };
  const parsed = parseIp(address!);
  const prefix = Number(prefixText);
  if (!parsed || prefix > bitsOf(parsed.version)) return { error: example };
  const host = bitsOf(parsed.version) - prefix;
  const network = (parsed.value >> BigInt(host)) << BigInt(host);
  if (network !== parsed.value) {
    // A set host bit is almost always a typo for another block: say which block was meant.
    const written = parsed.version === 4 ? formatIPv4(network) : formatIPv6(network);
    return { error: `has address bits set past its /${prefix} prefix: write ${written}/${prefix}` };
  }
  return { version: parsed.version, network, prefix };
}

/** AuthorizationPolicy's ipBlocks: a CIDR block or one address (a /32 or /128), or why the text is neither. */
export function parseIpBlock(text: string): Cidr | { error: string } {
  if (text.includes("/")) return parseCidr(text);
  const address = parseIp(text);
  if (!address) return { error: 'must be an IP address or a CIDR block such as "10.0.0.0/8" or "fd00::/8"' };
  return { version: address.version, network: address.value, prefix: bitsOf(address.version) };
}

/**
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address it carries, for matching (as
 * Envoy's IP matchers take it): otherwise "::ffff:203.0.113.7" would slip past 203.0.113.0/24.
 */
export function unmapped(address: IpAddress): IpAddress {
  return address.version === 6 && address.value >> 32n === 0xffffn ? { version: 4, value: address.value & 0xffffffffn } : address;
}

/** A block inside ::ffff:0:0/96 as the IPv4 block it maps (::ffff:203.0.113.0/120 is 203.0.113.0/24). */
export function unmappedCidr(cidr: Cidr): Cidr {
  if (cidr.version !== 6 || cidr.prefix < 96 || cidr.network >> 32n !== 0xffffn) return cidr;
  return { version: 4, network: cidr.network & 0xffffffffn, prefix: cidr.prefix - 96 };
}

export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  if (cidr.version !== address.version) return false;
  const host = BigInt(bitsOf(cidr.version) - cidr.prefix);
  return address.value >> host === cidr.network >> host;
}

/** RFC 5952 text: lowercase, the longest run of two or more zero groups as "::". */
export function formatIPv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { start: -1, length: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (best.start < 0) return hex.join(":");
  return `${hex.slice(0, best.start).join(":")}::${hex.slice(best.start + best.length).join(":")}`;
}
