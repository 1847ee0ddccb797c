/**
 * Which URLs may be a Backend's endpoint, and which hosts may register with a Backend at run time.
 * One check for every way an endpoint gets in: a policy file (Backend spec.endpoints[].url), the
 * admin API's registration, and the BackendCoordinator that stores it (defense in depth).
 *
 * An endpoint is an origin, `http(s)://host[:port]`: no credentials, path, query or fragment. Its host
 * must not be a cloud metadata service, link-local, unspecified, multicast or reserved address, in any
 * spelling: the WHATWG URL parser first turns decimal, hex, octal and short IPv4 forms into dotted
 * ones and lowercases names; trailing dots are dropped here, and IPv4 addresses embedded in IPv6 ones
 * (mapped, compatible, translated, NAT64, 6to4, Teredo) are checked as the IPv4 address they carry.
 * A name is checked as written: what it resolves to is not known here, which is why a Backend also
 * says which hosts may register (`registrationRefusal`).
 */
import { cidrContains, formatIPv4, parseCidr, parseIPv4, parseIPv6, type Cidr } from "./ip-address.ts";

export type EndpointHost =
  | { kind: "ipv4"; text: string; value: bigint }
  | { kind: "ipv6"; text: string; value: bigint }
  | { kind: "name"; text: string };

export type EndpointCheck = { ok: true; origin: string; host: EndpointHost } | { ok: false; message: string };

export const NOT_AN_ENDPOINT_URL = 'must be an http:// or https:// URL such as "http://127.0.0.1:9101"';
const ORIGIN_ONLY = 'an endpoint is an origin such as "http://127.0.0.1:9101"';

const block = (cidr: string, what: string) => ({ cidr: parseCidr(cidr) as Cidr, text: cidr, what });
const METADATA = "a cloud metadata service";
/** First match wins: the specific metadata addresses before the ranges that hold them. */
const REFUSED_V4 = [
  block("169.254.169.254/32", METADATA), // AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack...
  block("169.254.170.2/32", METADATA), // AWS ECS task metadata
  block("100.100.100.200/32", METADATA), // Alibaba Cloud
  block("0.0.0.0/8", "an unspecified address"),
  block("169.254.0.0/16", "a link-local address"),
  block("224.0.0.0/4", "a multicast address"),
  block("240.0.0.0/4", "a reserved address"), // 255.255.255.255 included
];
const REFUSED_V6 = [
  block("fd00:ec2::254/128", METADATA), // AWS IMDS over IPv6
  block("::/128", "an unspecified address"),
  block("fe80::/10", "a link-local address"),
  block("ff00::/8", "a multicast address"),
];
const METADATA_NAMES = new Set([
  "metadata", // GCP's short name
  "metadata.google.internal",
  "metadata.goog",
  "instance-data", // AWS
  "instance-data.ec2.internal",
  "metadata.tencentyun.com",
  "metadata.platformequinix.com",
  "metadata.packet.net",
]);

const low32 = (value: bigint) => value & 0xffffffffn;
/** RFC 6052: the IPv4 address after a NAT64 prefix of `length` bits, skipping bits 64-71. */
function rfc6052(value: bigint, length: number): bigint {
  let out = 0n;
  for (let bit = length, taken = 0; taken < 32; bit++) {
    if (bit >= 64 && bit < 72) continue;
    out = (out << 1n) | ((value >> BigInt(127 - bit)) & 1n);
    taken++;
  }
  return out;
}
/** IPv6 ranges that carry an IPv4 address, and where. */
const EMBEDDING = [
  { ...block("::ffff:0:0/96", "IPv4-mapped"), v4: (v: bigint) => [low32(v)] },
  { ...block("::ffff:0:0:0/96", "IPv4-translated"), v4: (v: bigint) => [low32(v)] },
  { ...block("64:ff9b::/96", "NAT64"), v4: (v: bigint) => [low32(v)] },
  { ...block("64:ff9b:1::/48", "local-use NAT64"), v4: (v: bigint) => [48, 56, 64, 96].map((length) => rfc6052(v, length)) },
  { ...block("2002::/16", "6to4"), v4: (v: bigint) => [(v >> 80n) & 0xffffffffn] },
  { ...block("2001::/32", "Teredo"), v4: (v: bigint) => [(v >> 64n) & 0xffffffffn, low32(v) ^ 0xffffffffn] },
  // Deprecated IPv4-compatible addresses; ::1 is loopback, not 0.0.0.1.
  { ...block("::/96", "IPv4-compatible"), v4: (v: bigint) => (v === 1n ? [] : [low32(v)]) },
];

const inBlock = (cidr: Cidr, value: bigint) => cidrContains(cidr, { version: cidr.version, value });

function refusedV4(value: bigint): string | undefined {
  const found = REFUSED_V4.find((entry) => inBlock(entry.cidr, value));
  if (!found) return undefined;
  const text = formatIPv4(value);
  return found.cidr.prefix === 32 ? `${found.what} (${text})` : `${found.what} (${text} in ${found.text})`;
}

/** Why no endpoint may have this host, or undefined when it may. */
export function unsafeHostReason(host: EndpointHost): string | undefined {
  if (host.kind === "name") return METADATA_NAMES.has(host.text) ? `${METADATA} (${host.text})` : undefined;
  if (host.kind === "ipv4") return refusedV4(host.value);
  const direct = REFUSED_V6.find((entry) => inBlock(entry.cidr, host.value));
  if (direct) return direct.cidr.prefix === 128 ? `${direct.what} (${host.text})` : `${direct.what} (${host.text} in ${direct.text})`;
  for (const embedding of EMBEDDING) {
    if (!inBlock(embedding.cidr, host.value)) continue;
    for (const v4 of embedding.v4(host.value)) {
      const reason = refusedV4(v4);
      if (reason) return `${reason.slice(0, -1)}, inside the ${embedding.what} address ${host.text})`;
    }
  }
  return undefined;
}

/** A URL's hostname as the WHATWG parser left it, with trailing dots dropped and parsed again. */
export function hostOf(hostname: string): EndpointHost | undefined {
  if (hostname.startsWith("[")) {
    const text = hostname.slice(1, -1);
    const value = parseIPv6(text);
    return value === undefined ? undefined : { kind: "ipv6", text, value };
  }
  let text = hostname;
  if (text.endsWith(".")) {
    // "169.254.169.254.." is a name to the parser, but a resolver may well take it for the address.
    const trimmed = text.replace(/\.+$/, "");
    if (!trimmed) return undefined;
    try {
      text = new URL(`http://${trimmed}/`).hostname;
    } catch {
      return undefined;
    }
    if (text.startsWith("[")) return undefined;
  }
  const value = parseIPv4(text);
  return value === undefined ? { kind: "name", text } : { kind: "ipv4", text, value };
}

/** Checks an endpoint URL; on success, its origin (what is stored and routed to) and host. */
export function checkEndpointUrl(input: string): EndpointCheck {
  const fail = (message: string): EndpointCheck => ({ ok: false, message });
  // The parser silently drops tabs and newlines anywhere and spaces at the ends: refuse them instead.
  if (/[\u0000-\u0020\u007f]/.test(input)) return fail("must not contain spaces or control characters");
  const form = /^(https?):\/\/([^/?#\\]*)(.*)$/i.exec(input);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return fail(NOT_AN_ENDPOINT_URL);
  }
  if (!form || (url.protocol !== "http:" && url.protocol !== "https:")) return fail(NOT_AN_ENDPOINT_URL);
  const [, , authority, rest] = form as unknown as [string, string, string, string];
  // The host first: it is what decides where a request would go.
  const host = hostOf(url.hostname);
  if (!host) return fail(NOT_AN_ENDPOINT_URL);
  const unsafe = unsafeHostReason(host);
  if (unsafe) {
    const written = authority.replace(/^.*@/, "").replace(/:[0-9]*$/, "").replace(/^\[(.*)\]$/, "$1");
    const spelled = written.toLowerCase() === host.text ? "" : `; written ${JSON.stringify(written)}`;
    return fail(`must not point at ${unsafe}${spelled}`);
  }
  if (authority.includes("@") || url.username || url.password) {
    return fail('must not contain a user name or password ("user:pass@"): credentials do not belong in an endpoint URL');
  }
  if (rest !== "" && rest !== "/") {
    const after = rest.replace(/^\//, "");
    const part = after.startsWith("?") ? "a query" : after.startsWith("#") ? "a fragment" : "a path";
    return fail(`must not have ${part} (${JSON.stringify(rest)}): ${ORIGIN_ONLY}`);
  }
  return { ok: true, origin: url.origin, host };
}

/** A Backend's spec as far as registration goes (structural, so that this module imports no schema). */
export interface RegistrationSpec {
  endpoints?: readonly { url: string }[];
  registration?: { allowedHosts?: readonly string[]; allowedCIDRs?: readonly string[] };
  tls?: { mode: string };
}

const LOOPBACK_V4 = parseCidr("127.0.0.0/8") as Cidr;
const MAPPED_LOOPBACK = parseCidr("::ffff:127.0.0.0/104") as Cidr;

/** 127.0.0.0/8, ::1 (and ::ffff:127.x), localhost and names under it (RFC 6761): traffic that never leaves the machine. */
export function isLoopback(host: EndpointHost): boolean {
  if (host.kind === "name") return host.text === "localhost" || host.text.endsWith(".localhost");
  if (host.kind === "ipv4") return inBlock(LOOPBACK_V4, host.value);
  return host.value === 1n || inBlock(MAPPED_LOOPBACK, host.value);
}

/** Whether an endpoint's traffic crosses a network unencrypted: plain http:// to a host outside loopback. */
export function isPlaintextOverNetwork(origin: string, host: EndpointHost): boolean {
  return origin.startsWith("http:") && !isLoopback(host);
}

/** The advice every plaintext warning and refusal ends with. */
export const PLAINTEXT_ADVICE = "use https:// or set spec.tls: { mode: DISABLE } on the Backend to opt out explicitly";

/**
 * Why a run-time registration of this endpoint is refused for being plaintext over a network, or
 * undefined: a Backend takes plain http:// outside loopback only with spec.tls.mode DISABLE.
 */
export function plaintextRefusal(backend: string, spec: RegistrationSpec, checked: { origin: string; host: EndpointHost }): string | undefined {
  if (spec.tls?.mode === "DISABLE" || !isPlaintextOverNetwork(checked.origin, checked.host)) return undefined;
  return `traffic to ${checked.origin} would not be encrypted in transit, and backend "${backend}" does not allow plaintext; ${PLAINTEXT_ADVICE}`;
}

function hostMatches(pattern: string, host: string): boolean {
  return pattern.startsWith("*.") ? host.endsWith(pattern.slice(1)) : pattern === host;
}

/**
 * Why `host` may not register with this Backend, or undefined when it may. `spec.registration` lists
 * the hosts and CIDR blocks that may; without it, the hosts of the Backend's static endpoints may.
 */
export function registrationRefusal(backend: string, spec: RegistrationSpec, host: EndpointHost): string | undefined {
  const explicit = spec.registration;
  const hosts = explicit
    ? [...(explicit.allowedHosts ?? [])]
    : [...new Set((spec.endpoints ?? []).flatMap((e) => { const c = checkEndpointUrl(e.url); return c.ok ? [c.host.text] : []; }))];
  const cidrs = explicit?.allowedCIDRs ?? [];
  const how = "list the hosts or CIDR blocks that may register in its spec.registration.allowedHosts or spec.registration.allowedCIDRs";
  if (!hosts.length && !cidrs.length) {
    const why = explicit ? "its spec.registration allows no host" : "it has no static endpoints and no spec.registration";
    return `backend "${backend}" accepts no registrations: ${why}; ${how}`;
  }
  if (hosts.some((pattern) => hostMatches(pattern, host.text))) return undefined;
  if (host.kind !== "name") {
    const address = { version: host.kind === "ipv4" ? (4 as const) : (6 as const), value: host.value };
    if (cidrs.some((text) => { const cidr = parseCidr(text); return "network" in cidr && cidrContains(cidr, address); })) return undefined;
  }
  const allowed = [hosts.length ? `hosts ${hosts.join(", ")}` : "", cidrs.length ? `CIDR blocks ${cidrs.join(", ")}` : ""].filter(Boolean).join(" and ");
  const source = explicit ? "its spec.registration" : "the hosts of its static endpoints, as it has no spec.registration";
  return `${host.text} may not register with backend "${backend}": only ${allowed} may (${source}); to allow more, ${how}`;
}
