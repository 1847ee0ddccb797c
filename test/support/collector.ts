/** A loopback OTLP/HTTP JSON collector: keeps every span it receives, with its resource's service.name. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface CollectedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, string | number | boolean>;
  status: { code: number };
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };

export class Collector {
  readonly spans: CollectedSpan[] = [];
  readonly requests: { path: string; contentType: string | undefined }[] = [];
  /** While set, requests are held unanswered (a collector that hangs). */
  hang = false;
  private server!: Server;
  private held: (() => void)[] = [];

  static async start(): Promise<Collector> {
    const collector = new Collector();
    collector.server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk));
      request.on("end", () => {
        collector.requests.push({ path: request.url ?? "", contentType: request.headers["content-type"] });
        const answer = () => response.writeHead(200, { "content-type": "application/json" }).end("{}");
        if (collector.hang) return void collector.held.push(answer);
        try {
          collector.take(JSON.parse(body));
        } catch {
          return void response.writeHead(400).end();
        }
        answer();
      });
    });
    await new Promise<void>((resolve) => collector.server.listen(0, "127.0.0.1", resolve));
    return collector;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private take(body: { resourceSpans?: { resource?: { attributes?: { key: string; value: AnyValue }[] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[] }): void {
    for (const resourceSpans of body.resourceSpans ?? []) {
      const service = String(value(resourceSpans.resource?.attributes?.find((a) => a.key === "service.name")?.value) ?? "");
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          const attributes = Object.fromEntries(((span.attributes as { key: string; value: AnyValue }[]) ?? []).map((a) => [a.key, value(a.value)!]));
          this.spans.push({ ...(span as unknown as CollectedSpan), service, attributes });
        }
      }
    }
  }

  trace(traceId: string): CollectedSpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }

  async close(): Promise<void> {
    this.held.forEach((answer) => answer());
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function value(v: AnyValue | undefined): string | number | boolean | undefined {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  return v.doubleValue;
}
