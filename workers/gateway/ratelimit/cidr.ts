/** IPv4 and IPv6 addresses as bigints, and CIDR containment, for rate-limit sourceCIDR selectors. */

export function parseIp(text: string): { value: bigint; bits: 32 | 128 } | undefined {
  if (text.includes(".") && !text.includes(":")) {
    const parts = text.split(".");
    if (parts.length !== 4 || parts.some((part) => !/^[0-9]{1,3}$/.test(part) || Number(part) > 255)) return undefined;
    return { value: parts.reduce((value, part) => (value << 8n) | BigInt(part), 0n), bits: 32 };
  }
  if (!/^[0-9a-f:]+$/i.test(text)) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (groups.some((group) => !/^[0-9a-f]{1,4}$/i.test(group))) return undefined;
  return { value: groups.reduce((value, group) => (value << 16n) | BigInt(`0x${group}`), 0n), bits: 128 };
}

export type CidrTest = (ip: string) => boolean;

export function compileCidr(cidr: string): CidrTest {
  const [address, prefix] = cidr.split("/");
  const network = parseIp(address!);
  if (!network) return () => false;
  const shift = BigInt(network.bits - Number(prefix));
  const masked = network.value >> shift;
  return (ip) => {
    const parsed = parseIp(ip);
    return parsed !== undefined && parsed.bits === network.bits && parsed.value >> shift === masked;
  };
}
