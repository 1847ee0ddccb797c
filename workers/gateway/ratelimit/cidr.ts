/**
 * CIDR containment for rate-limit sourceCIDR selectors (compileCidr) and AuthorizationPolicy's
 * ipBlocks (compileIpBlocks), on policies/ip-address.ts's parser: the one the schemas validate with,
 * so a block that validates is a block that matches. An IPv4-mapped IPv6 address (::ffff:a.b.c.d), a
 * client's or a block's, is the IPv4 address it carries, as in Envoy's IP matchers.
 */
import { bitsOf, parseIp, parseIpBlock, unmapped, unmappedCidr, type Cidr, type IpAddress } from "../../../policies/ip-address.ts";

export type CidrTest = (ip: string) => boolean;
export type AddressTest = (address: IpAddress) => boolean;

/** A client address (CF-Connecting-IP) as blocks are matched against it, or undefined when it is none. */
export function clientAddress(ip: string): IpAddress | undefined {
  const address = parseIp(ip);
  return address && unmapped(address);
}

function contains(cidr: Cidr): AddressTest {
  const { version } = cidr;
  const shift = BigInt(bitsOf(version) - cidr.prefix);
  const network = cidr.network >> shift;
  return (address) => address.version === version && address.value >> shift === network;
}

/**
 * A rate limit's sourceCIDR. Its schema (rate-limit.ts isCidr) takes what this parses, plus what it
 * took before and keeps the meaning of: IPv4 octets with leading zeros are decimal, and bits past the
 * prefix are ignored.
 */
export function compileCidr(cidr: string): CidrTest {
  const [address = "", prefix] = cidr.split("/");
  const parsed = parseIp(/^[0-9.]+$/.test(address) ? address.replace(/(^|\.)0+(?=[0-9])/g, "$1") : address);
  if (!parsed) return () => false;
  const host = BigInt(bitsOf(parsed.version) - Number(prefix));
  const test = contains(unmappedCidr({ version: parsed.version, network: (parsed.value >> host) << host, prefix: Number(prefix) }));
  return (ip) => {
    const client = clientAddress(ip);
    return client !== undefined && test(client);
  };
}

/** AuthorizationPolicy ipBlocks, as its schema validated them: one that does not parse is an error, never a block that matches nothing. */
export function compileIpBlocks(blocks: readonly string[]): AddressTest {
  const tests = blocks.map((text) => {
    const block = parseIpBlock(text);
    if ("error" in block) throw new Error(`ipBlock "${text}" ${block.error}`);
    return contains(unmappedCidr(block));
  });
  if (tests.length === 1) return tests[0]!;
  return (address) => tests.some((test) => test(address));
}
