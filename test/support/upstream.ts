/**
 * A real HTTP upstream on 127.0.0.1 that echoes the request it received as JSON and misbehaves on
 * command: fail the next N requests, reset connections, hang, or answer slowly.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Echo {
  server: string;
  port: number;
  method: string;
  /** The request target exactly as received (path and query). */
  url: string;
  host: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface Received extends Echo {
  at: number;
}

type Behaviour =
  | { kind: "status"; status: number }
  | { kind: "reset" }
  | { kind: "hang" }
  | { kind: "delay"; ms: number }
  /** An interim (1xx) response before the normal answer: 100 Continue, 102 Processing or 103 Early Hints. */
  | { kind: "interim"; status: 100 | 102 | 103 };

/**
 * How long an idle connection stays open. It must outlast workerd's own idle timeout for pooled
 * upstream connections (5 s, kj's HttpClientSettings.idleTimeout): a server that closes first races
 * the gateway, which may send a request down the connection as it closes and get "Network connection
 * lost" (under CPU load, a few requests in every burst did). Real origins keep connections longer
 * still (nginx 75 s).
 */
const KEEP_ALIVE_S = 10;

export class Upstream {
  readonly received: Received[] = [];
  /** Headers added to every normal answer (to test what the gateway passes on). */
  extraHeaders: Record<string, string> = {};
  private queue: Behaviour[] = [];
  private always: Behaviour | undefined;
  private server!: Server;
  port = 0;
  private readonly hanging = new Map<IncomingMessage, () => void>();

  constructor(readonly name: string) {}

  static async start(name: string, port = 0): Promise<Upstream> {
    const upstream = new Upstream(name);
    await upstream.listen(port);
    return upstream;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The next `count` requests get `behaviour`; after that the upstream answers normally. */
  next(count: number, behaviour: Behaviour): this {
    for (let i = 0; i < count; i++) this.queue.push(behaviour);
    return this;
  }
  failNext(count: number, status = 503): this {
    return this.next(count, { kind: "status", status });
  }
  resetNext(count: number): this {
    return this.next(count, { kind: "reset" });
  }
  /** Every request from now on gets `behaviour` (undefined: back to normal). */
  setAlways(behaviour: Behaviour | undefined): this {
    this.always = behaviour;
    return this;
  }
  /** Requests held by "hang" whose client is still waiting. */
  get pending(): number {
    return this.hanging.size;
  }

  /** Answers every request that is hanging, normally. */
  release(): this {
    for (const answer of this.hanging.values()) answer();
    this.hanging.clear();
    return this;
  }

  reset(): this {
    this.queue = [];
    this.always = undefined;
    this.received.length = 0;
    this.extraHeaders = {};
    return this;
  }

  private async listen(port: number): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", async () => {
        const echo: Echo = {
          server: this.name,
          port: this.port,
          method: request.method!,
          url: request.url!,
          host: request.headers.host,
          headers: request.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        };
        this.received.push({ ...echo, at: Date.now() });
        const behaviour = this.queue.shift() ?? this.always;
        if (behaviour?.kind === "reset") return request.socket.destroy();
        if (behaviour?.kind === "interim") {
          if (behaviour.status === 100) response.writeContinue();
          else if (behaviour.status === 102) response.writeProcessing();
          else response.writeEarlyHints({ link: "</style.css>; rel=preload; as=style" });
        }
        const answer = () => {
          const status = behaviour?.kind === "status" ? behaviour.status : 200;
          response.writeHead(status, { "content-type": "application/json", "x-upstream": this.name, connection: "keep-alive", "keep-alive": `timeout=${KEEP_ALIVE_S}`, ...this.extraHeaders });
          response.end(JSON.stringify(echo));
        };
        if (behaviour?.kind === "hang") {
          // A hanging request the client gives up on (its connection closes) is no longer pending.
          response.once("close", () => this.hanging.delete(request));
          return void this.hanging.set(request, answer);
        }
        if (behaviour?.kind === "delay") await new Promise((resolve) => setTimeout(resolve, behaviour.ms));
        answer();
      });
    });
    this.server.keepAliveTimeout = KEEP_ALIVE_S * 1000;
    await new Promise<void>((resolve) => this.server.listen(port, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const request of this.hanging.keys()) request.socket.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
