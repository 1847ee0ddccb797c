/**
 * The loopback upstream: plain Node HTTP servers on 127.0.0.1, one per endpoint, answering every
 * request with 200 and the same small body. They run in the benchmark's own process, which idles
 * while wrk runs, so they need no cleanup beyond the process's own exit.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export const BODY = "hello from the upstream\n";
/** Names the endpoint that answered, so the checks can see where a request landed. */
export const PORT_HEADER = "x-upstream-port";

export interface Upstreams {
  readonly ports: readonly number[];
  /** Requests served, per endpoint (same order as `ports`). */
  readonly hits: number[];
  /** Of those, requests that carried the mesh's edgemesh-caller-token (gateway_secure's check). */
  readonly withCallerToken: { count: number };
  close(): Promise<void>;
}

export async function startUpstreams(count: number): Promise<Upstreams> {
  const hits = new Array<number>(count).fill(0);
  const withCallerToken = { count: 0 };
  const servers: Server[] = [];
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer();
    // Idle keep-alive connections stay open: Node's 5 s default would close pooled connections that
    // workerd sits on between measurements, and a request racing that close fails as a reset.
    server.keepAliveTimeout = 0;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const headers = { "content-type": "text/plain", "content-length": String(Buffer.byteLength(BODY)), [PORT_HEADER]: String(port) };
    server.on("request", (request, response) => {
      hits[i]!++;
      if (request.headers["edgemesh-caller-token"] !== undefined) withCallerToken.count++;
      // Drain any request body so the connection can be reused.
      request.resume();
      response.writeHead(200, headers);
      response.end(BODY);
    });
    servers.push(server);
    ports.push(port);
  }
  return {
    ports,
    hits,
    withCallerToken,
    async close() {
      for (const server of servers) server.closeAllConnections();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}
