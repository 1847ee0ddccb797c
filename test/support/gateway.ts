/**
 * The real gateway bundle (what `wrangler deploy` ships) running in workerd through the Miniflare
 * API, with the policies a test gives it and optional Worker backends on service bindings. Outcome
 * records are read from the gateway's own JSON access log on workerd's stdout.
 */
import { Miniflare } from "miniflare";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
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

export const ADMIN_TOKEN = "test-admin-token";

export interface MeshOptions {
  /** Worker backends on service bindings. */
  workers?: WorkerBackend[];
  /** Run the control plane (Durable Objects and KV), with this many gateway isolates sharing it. */
  isolates?: number;
  /** Persist Durable Objects and KV here, so a restarted mesh finds its state. */
  persistDir?: string;
  /** Extra variables for every gateway isolate (poll and report intervals...). */
  vars?: Record<string, string>;
  /** Replaces the control plane's Durable Objects with this Worker's (to simulate an unreachable one). */
  controlPlaneScript?: string;
  /**
   * Replaces the KV namespace with a wrapped binding: an ES module whose default export returns the
   * object bound as MESH_KV (get, put). It runs inside each isolate, so its state is that isolate's:
   * use it with one isolate (which also hosts the ConfigStore that writes to it).
   */
  kvScript?: string;
  /** Binds ANALYTICS (a Workers Analytics Engine dataset) to a stand-in that logs each data point; read them in `analytics`. */
  analytics?: boolean;
  /**
   * Worker callers bound to the gateway's `Mesh` entrypoint, each with the props its binding carries
   * (its mesh identity); `fetchAs` sends a request through one. Their script forwards the request.
   */
  callers?: { name: string; props?: Record<string, unknown> }[];
}

/** A Workers Analytics Engine dataset that logs what it is given (miniflare's own discards it). */
const ANALYTICS_SCRIPT = "export default () => ({ writeDataPoint(point) { console.log(JSON.stringify({ message: 'analytics data point', point })); } });";

const CALLER_SCRIPT = "export default { fetch(request, env) { return env.MESH.fetch(request); } };";

const CONTROL_PLANE_CLASSES = { CONFIG_STORE: "ConfigStore", BACKEND_COORDINATOR: "BackendCoordinator", RATE_LIMITER: "RateLimiter" };

export class TestGateway {
  readonly outcomes: Outcome[] = [];
  /** Data points written to ANALYTICS (MeshOptions.analytics). */
  readonly analytics: { indexes?: string[]; blobs?: string[]; doubles?: number[] }[] = [];
  readonly errors: string[] = [];
  /** Every other JSON log line (warnings, "trust bundle refreshed"...), parsed. */
  readonly logs: { message?: string; level?: string; [key: string]: unknown }[] = [];
  private constructor(private readonly mf: Miniflare) {}

  static async start(policies: unknown[], options: MeshOptions | WorkerBackend[] = {}): Promise<TestGateway> {
    const { workers = [], isolates = 0, persistDir, vars = {}, controlPlaneScript, kvScript, analytics = false, callers = [] } = Array.isArray(options) ? { workers: options } : options;
    let gateway: TestGateway | undefined;
    const pending: string[] = [];
    const onLine = (line: string) => (gateway ? gateway.onLine(line) : pending.push(line));
    // Isolate 0 hosts the Durable Objects (or the stand-in script does); every isolate binds the same ones.
    const host = controlPlaneScript ? "control-plane" : "gateway";
    const controlPlane = isolates > 0 && {
      durableObjects: {
        ...Object.fromEntries(Object.entries(CONTROL_PLANE_CLASSES).map(([binding, className]) => [binding, { className, scriptName: host, useSQLite: true }])),
        // The real Issuer always (the stand-in control planes do not replace it).
        ISSUER: { className: "Issuer", scriptName: "gateway", useSQLite: true },
        METRICS: { className: "MetricsAggregator", scriptName: "gateway", useSQLite: true },
        ALERTS: { className: "AlertEvaluator", scriptName: "gateway", useSQLite: true },
      },
      ...(kvScript ? { wrappedBindings: { MESH_KV: { scriptName: "kv-wrapper" } } } : { kvNamespaces: { MESH_KV: "mesh-kv" } }),
    };
    const gatewayWorker = (name: string) => ({
      name,
      modules: true,
      scriptPath: GATEWAY_BUNDLE,
      modulesRoot: GATEWAY_BUNDLE.replace(/\/[^/]*$/, ""),
      compatibilityDate: COMPATIBILITY_DATE,
      bindings: { MESH_POLICIES: JSON.stringify(policies), ACCESS_LOG: "on", ADMIN_TOKEN, ...vars },
      serviceBindings: Object.fromEntries(workers.map((worker) => [worker.binding, `worker-${worker.binding}`])),
      ...controlPlane,
      // Beside the control plane's wrapped KV, if any.
      ...(analytics && { wrappedBindings: { ...(controlPlane && "wrappedBindings" in controlPlane ? controlPlane.wrappedBindings : {}), ANALYTICS: { scriptName: "analytics-wrapper" } } }),
    });
    const mf = new Miniflare({
      ...(persistDir && { durableObjectsPersist: `${persistDir}/do`, kvPersist: `${persistDir}/kv` }),
      workers: [
        gatewayWorker("gateway"),
        ...Array.from({ length: Math.max(0, isolates - 1) }, (_, i) => gatewayWorker(`gateway-${i + 1}`)),
        ...(controlPlaneScript && isolates > 0
          ? [{ name: "control-plane", modules: true, script: controlPlaneScript, compatibilityDate: COMPATIBILITY_DATE }]
          : []),
        // A wrapped binding's module takes the compatibility date of the Worker it is bound into.
        ...(kvScript ? [{ name: "kv-wrapper", modules: true, script: kvScript }] : []),
        ...(analytics ? [{ name: "analytics-wrapper", modules: true, script: ANALYTICS_SCRIPT }] : []),
        ...callers.map((caller) => ({
          name: `caller-${caller.name}`,
          modules: true,
          script: CALLER_SCRIPT,
          compatibilityDate: COMPATIBILITY_DATE,
          serviceBindings: { MESH: { name: "gateway", entrypoint: "Mesh", ...(caller.props && { props: caller.props }) } },
        })),
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
      else if (record.message === "analytics data point") this.analytics.push((record as unknown as { point: TestGateway["analytics"][number] }).point);
      else {
        this.logs.push(record);
        if (record.level === "error") this.errors.push(line);
      }
    } catch {
      // Not a JSON log line.
    }
  }

  /** Sends a request as a client would; `target` is a URL or a path on host `gw.test`; `isolate` picks the gateway. */
  async fetch(target: string, init: RequestInit & { headers?: Record<string, string> } = {}, isolate = 0): Promise<Response> {
    const url = target.startsWith("http") ? target : `http://gw.test${target}`;
    if (isolate === 0) return this.mf.dispatchFetch(url, { redirect: "manual", ...init } as never) as unknown as Promise<Response>;
    const worker = (await this.mf.getWorker(`gateway-${isolate}`)) as unknown as { fetch(url: string, init: unknown): Promise<Response> };
    return worker.fetch(url, { redirect: "manual", ...init });
  }

  /** Sends a request through a Worker caller (MeshOptions.callers), over its binding to the gateway's Mesh entrypoint. */
  async fetchAs(caller: string, target: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
    const url = target.startsWith("http") ? target : `http://gw.test${target}`;
    const worker = (await this.mf.getWorker(`caller-${caller}`)) as unknown as { fetch(url: string, init: unknown): Promise<Response> };
    return worker.fetch(url, { redirect: "manual", ...init });
  }

  /** The gateway's real HTTP address (isolate 0), for clients outside the test process. */
  async url(): Promise<string> {
    return (await this.mf.ready).origin;
  }

  /** Calls the admin API of one isolate with the admin token. */
  async admin<T = Record<string, unknown>>(method: string, path: string, body?: unknown, isolate = 0, headers: Record<string, string> = {}) {
    const response = await this.fetch(`http://admin.test/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json", ...headers },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    }, isolate);
    return { status: response.status, body: (await response.json()) as T };
  }

  /** A Durable Object stub, straight from the runtime (to drive alarms in tests). */
  async durableObject(binding: keyof typeof CONTROL_PLANE_CLASSES | "ISSUER", name: string) {
    type Stub = Record<string, (...args: unknown[]) => Promise<unknown>>;
    const namespace = (await this.mf.getDurableObjectNamespace(binding)) as unknown as { get(id: unknown): Stub; idFromName(name: string): unknown };
    return namespace.get(namespace.idFromName(name));
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

  /**
   * An upload over a real HTTP connection that declares `declaredLength` bytes and sends only `sent`
   * (or all of them), then waits: what the gateway answers, or `undefined` if nothing came within
   * `boundMs` (the connection is then dropped).
   */
  async stalledUpload(
    path: string,
    options: {
      headers: Record<string, string>;
      sent: string;
      declaredLength?: number;
      /** More of the body, sent after a pause. */
      then?: { afterMs: number; sent: string };
      method?: string;
      boundMs: number;
    },
  ): Promise<{ status: number; headers: Record<string, unknown>; body: string; elapsedMs: number } | undefined> {
    const { headers, sent, then, method = "PUT", boundMs } = options;
    const total = Buffer.byteLength(sent) + (then ? Buffer.byteLength(then.sent) : 0);
    const declaredLength = options.declaredLength ?? total;
    const url = await this.mf.ready;
    const startedAt = Date.now();
    return new Promise((resolve) => {
      const request = httpRequest(new URL(path, url), { method, headers: { ...headers, "content-length": String(declaredLength) } }, (response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk));
        response.on("end", () => done({ status: response.statusCode!, headers: response.headers, body, elapsedMs: Date.now() - startedAt }));
        response.on("error", () => done({ status: response.statusCode!, headers: response.headers, body, elapsedMs: Date.now() - startedAt }));
      });
      const timer = setTimeout(() => done(undefined), boundMs);
      let more: ReturnType<typeof setTimeout> | undefined;
      const done = (result: Awaited<ReturnType<TestGateway["stalledUpload"]>>) => {
        clearTimeout(timer);
        clearTimeout(more);
        request.destroy();
        resolve(result);
      };
      const write = (text: string, soFar: number) => (soFar >= declaredLength ? request.end(text) : request.write(text));
      request.on("error", () => done(undefined));
      write(sent, Buffer.byteLength(sent));
      if (then) more = setTimeout(() => write(then.sent, total), then.afterMs);
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

/**
 * Writes `text` to 127.0.0.1:`port` and reads one answer: until its Content-Length is in, the server
 * closes the connection, or `boundMs` passes (workerd may keep a connection open after it answered).
 */
export function rawExchange(port: number, text: string, boundMs = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(finish, boundMs);
    socket.on("data", (chunk: Buffer) => {
      answer += chunk;
      const end = answer.indexOf("\r\n\r\n");
      const length = /^content-length:\s*(\d+)/im.exec(answer.slice(0, end))?.[1];
      if (end >= 0 && length !== undefined && Buffer.byteLength(answer.slice(end + 4)) >= Number(length)) finish();
    });
    socket.on("error", () => undefined);
    socket.on("close", finish);
    socket.write(text);
  });
}
