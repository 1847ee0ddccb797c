/** RFC 9110 §7.6.1: headers that describe one connection, never forwarded by a proxy. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]);

const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z|~]+$/;

/** The header names a Connection header lists, which are hop-by-hop too. */
export function connectionNames(connection: string): string[] {
  const names: string[] = [];
  for (const name of connection.split(",")) {
    const trimmed = name.trim();
    // An invalid token would make Headers.delete throw; such a name cannot be a header anyway.
    if (TOKEN.test(trimmed)) names.push(trimmed);
  }
  return names;
}
