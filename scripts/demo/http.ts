/** Small helpers shared by the demo's Node origins (details, reviews). */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { serverSpan, tracerFor } from "./telemetry.ts";

/** Headers a demo service copies from its request to the calls it makes, as bookinfo does, so one
 * page load keeps one request id and one trace, and the canary and chaos headers reach ratings. */
export const PROPAGATED_HEADERS = ["x-request-id", "traceparent", "tracestate", "x-canary", "cookie", "x-chaos"] as const;

export function propagatedHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of PROPAGATED_HEADERS) {
    const value = request.headers[name];
    if (typeof value === "string") headers[name] = value;
  }
  return headers;
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  response.end(text);
}

export type Handler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/** Listens on 127.0.0.1 only; rejects (instead of crashing later) when the port is taken. */
export function listen(name: string, port: number, handler: Handler): Promise<Server> {
  // With OTEL_EXPORTER_OTLP_ENDPOINT set, a server span per request (telemetry.ts).
  const tracer = tracerFor(name);
  const server = createServer((request, response) => {
    serverSpan(tracer, request, response, port);
    Promise.resolve(handler(request, response)).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { error: String(error) });
      else response.destroy();
    });
  });
  // workerd reuses idle upstream connections for about 5 s: an origin that closes them sooner (Node's
  // default is 5 s) races the gateway's next request on them, which then fails as a reset.
  server.keepAliveTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(new Error(error.code === "EADDRINUSE" ? `${name}: port ${port} on 127.0.0.1 is already in use` : `${name}: ${error.message}`)),
    );
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
