/**
 * A real Prometheus (Debian's package) scraping a target on loopback, with its HTTP API for queries.
 * Its data lives in a temporary directory removed on stop.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const PROMETHEUS_BIN = "/usr/bin/prometheus";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export class Prometheus {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly url: string,
    readonly output: string[],
  ) {}

  /** Scrapes `target` (an http://host:port origin) at `path` every second, with a bearer token. */
  static async start(target: string, path: string, token: string): Promise<Prometheus> {
    const dir = mkdtempSync(join(tmpdir(), "edgemesh-prometheus-"));
    const { host } = new URL(target);
    writeFileSync(
      join(dir, "prometheus.yml"),
      `global: { scrape_interval: 1s, scrape_timeout: 1s }
scrape_configs:
  - job_name: edgemesh
    metrics_path: ${path}
    authorization: { type: Bearer, credentials: ${JSON.stringify(token)} }
    static_configs: [{ targets: [${JSON.stringify(host)}] }]
`,
    );
    const port = await freePort();
    const child = spawn(
      PROMETHEUS_BIN,
      [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const output: string[] = [];
    child.stdout!.on("data", (chunk: Buffer) => output.push(String(chunk)));
    child.stderr!.on("data", (chunk: Buffer) => output.push(String(chunk)));
    return new Prometheus(child, dir, `http://127.0.0.1:${port}`, output);
  }

  /** An instant query's vector result, or undefined while Prometheus is not up yet. */
  async query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[] | undefined> {
    try {
      const response = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      if (!response.ok) return undefined;
      const body = (await response.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      return body.data.result;
    } catch {
      return undefined;
    }
  }

  /** The scrape targets' health, as Prometheus reports it. */
  async targets(): Promise<{ health: string; lastError: string }[]> {
    const response = await fetch(`${this.url}/api/v1/targets`);
    const body = (await response.json()) as { data: { activeTargets: { health: string; lastError: string }[] } };
    return body.data.activeTargets;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once("exit", resolve));
      this.child.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (this.child.exitCode === null) this.child.kill("SIGKILL");
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
