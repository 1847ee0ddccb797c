/** RFC 9110 §7.6.1: headers that describe one connection, never forwarded by a proxy. */
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];

/** Removes hop-by-hop headers, including any the Connection header names. */
export function stripHopByHop(headers: Headers): void {
  const connection = headers.get("connection");
  if (connection) for (const name of connection.split(",")) {
    const trimmed = name.trim();
    // An invalid token would make Headers.delete throw; such a name cannot be a header anyway.
    if (/^[!#$%&'*+\-.0-9A-Z^_`a-z|~]+$/.test(trimmed)) headers.delete(trimmed);
  }
  for (const name of HOP_BY_HOP) headers.delete(name);
}
