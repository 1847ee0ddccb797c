/**
 * The gateway bundle under the workerd binary itself, without Miniflare: for requests Miniflare's own
 * entry Worker would answer before the gateway sees them (it parses every request's URL first, and a
 * bad Host header makes that throw). The bench's workerd runner, with the test bundle and no control
 * plane; the access log is left in workerd's stdout file.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startWorkerd, type Workerd } from "../../bench/workerd.ts";
import { GATEWAY_BUNDLE } from "./bundle.ts";
import { ADMIN_TOKEN } from "./gateway.ts";

const COMPATIBILITY_DATE = "2026-04-20";

export class RawGateway {
  private constructor(
    readonly port: number,
    private readonly workerd: Workerd,
    private readonly dir: string,
  ) {}

  static async start(policies: unknown[]): Promise<RawGateway> {
    const dir = mkdtempSync(join(tmpdir(), "edgemesh-raw-"));
    const policiesFile = join(dir, "policies.json");
    writeFileSync(policiesFile, JSON.stringify(policies));
    const port = await freePort();
    try {
      const workerd = await startWorkerd(
        join(dir, "config.capnp"),
        [
          {
            name: "gateway",
            bundle: { script: GATEWAY_BUNDLE, compatibilityDate: COMPATIBILITY_DATE },
            port,
            bindings: [
              { name: "MESH_POLICIES", file: policiesFile },
              { name: "ACCESS_LOG", text: "off" },
              { name: "ADMIN_TOKEN", text: ADMIN_TOKEN },
            ],
          },
        ],
        dir,
      );
      return new RawGateway(port, workerd, dir);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  async dispose(): Promise<void> {
    await this.workerd.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
