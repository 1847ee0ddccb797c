/**
 * The real gateway bundle (what `wrangler deploy` ships) running in workerd through the Miniflare
 * API, with the policies a test gives it and optional Worker backends on service bindings. Outcome
 * records are read from the gateway's own JSON access log on workerd's stdout.
 */
import { Miniflare } from "miniflare";
import { request as httpRequest } from "node:http";
import { Readable } from "node:stream";
import { createInterface } from "node:readline";
import { GATEWAY_BUNDLE } from "./bundle.ts";

export interface WorkerBackend {
  /** Binding name in the gateway (the Backend's spec.worker.service). */
  binding: string;
  /** ES module source of the Worker. */
  script: string;
}

export interface Outcome {
  requestId: string;
  route?: string;
  backend?: string;
  endpoint?: string;
  attempts: number;
  status: number;
  reason?: string;
  latencyMs: number;
  retryBudgetExhausted: boolean;
  faults: string[];
  tries?: { endpoint?: string; status: number; reason?: string }[];
  [key: string]: unknown;
}

const COMPATIBILITY_DATE = "2026-04-20";

export class TestGateway {
  readonly outcomes: Outcome[] = [];
  readonly errors: string[] = [];
  private constructor(private readonly mf: Miniflare) {}

  static async start(policies: unknown[], workers: WorkerBackend[] = []): Promise<TestGateway> {
    let gateway: TestGateway | undefined;
    const pending: string[] = [];
    const onLine = (line: string) => (gateway ? gateway.onLine(line) : pending.push(line));
    const mf = new Miniflare({
      workers: [
        {
          name: "gateway",
          modules: true,
          scriptPath: GATEWAY_BUNDLE,
          modulesRoot: GATEWAY_BUNDLE.replace(/\/[^/]*$/, ""),
          compatibilityDate: COMPATIBILITY_DATE,
          bindings: { MESH_POLICIES: JSON.stringify(policies), ACCESS_LOG: "on" },
          serviceBindings: Object.fromEntries(workers.map((worker) => [worker.binding, `worker-${worker.binding}`])),
        },
        ...workers.map((worker) => ({
          name: `worker-${worker.binding}`,
          modules: true,
          script: worker.script,
          compatibilityDate: COMPATIBILITY_DATE,
        })),
      ],
      handleRuntimeStdio(stdout: Readable, stderr: Readable) {
        for (const stream of [stdout, stderr]) createInterface({ input: stream }).on("line", onLine);
      },
    });
    await mf.ready;
    gateway = new TestGateway(mf);
    pending.forEach((line) => gateway!.onLine(line));
    return gateway;
  }

  private onLine(line: string): void {
    const start = line.indexOf("{");
    if (start < 0) return;
    try {
      const record = JSON.parse(line.slice(start)) as { message?: string; level?: string };
      if (record.message === "request") this.outcomes.push(record as unknown as Outcome);
      else if (record.level === "error") this.errors.push(line);
    } catch {
      // Not a JSON log line.
    }
  }

  /** Sends a request as a client would; `target` is a URL or a path on host `gw.test`. */
  fetch(target: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
    const url = target.startsWith("http") ? target : `http://gw.test${target}`;
    return this.mf.dispatchFetch(url, { redirect: "manual", ...init } as never) as unknown as Promise<Response>;
  }

  async json<T = Record<string, unknown>>(target: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
    const response = await this.fetch(target, init);
    const text = await response.text();
    let body: T;
    try {
      body = JSON.parse(text) as T;
    } catch {
      body = text as T;
    }
    return { status: response.status, headers: response.headers, body };
  }

  /**
   * A request over a real HTTP connection to workerd's socket, with headers exactly as given (Host and
   * Connection included), which `fetch` in Node would rewrite.
   */
  async raw(path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    const url = await this.mf.ready;
    return new Promise((resolve, reject) => {
      const request = httpRequest(new URL(path, url), { headers }, (response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, body }));
      });
      request.on("error", reject);
      request.end();
    });
  }

  /** The outcome record of a request, once the gateway has logged it (sinks run after the response). */
  async outcomeOf(requestId: string): Promise<Outcome> {
    for (let i = 0; i < 200; i++) {
      const found = this.outcomes.find((outcome) => outcome.requestId === requestId);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no outcome logged for request ${requestId}`);
  }

  dispose(): Promise<void> {
    return this.mf.dispose();
  }
}
