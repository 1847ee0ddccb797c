/**
 * KV is eventually consistent: a read may return an older snapshot than one an isolate already took.
 * An isolate never goes back to it (table-source.ts compares publication times), so a version that
 * a later apply replaced is not served again. The KV here (TestGateway's `kvScript`) answers every
 * other read with the value before the last write, as a lagging replica would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { Upstream, type Echo } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

const LAGGING_KV = `const latest = new Map();
const previous = new Map();
let reads = 0;
export default function () {
  return {
    async get(key, type) {
      reads++;
      const value = reads % 2 === 0 && previous.has(key) ? previous.get(key) : latest.get(key);
      return value === undefined ? null : type === "json" ? JSON.parse(value) : value;
    },
    async put(key, value) {
      if (latest.has(key)) previous.set(key, latest.get(key));
      latest.set(key, value);
    },
  };
}`;

let a: Upstream;
let b: Upstream;
let mesh: TestGateway;
const documentsFor = (target: string) => [backend("a", [a.url]), backend("b", [b.url]), simpleRoute("app", "app.test", target)];
const serverOf = async () => ((await (await mesh.fetch("http://app.test/")).json()) as Echo).server;

beforeAll(async () => {
  [a, b] = await Promise.all([Upstream.start("a"), Upstream.start("b")]);
  mesh = await TestGateway.start(documentsFor("a"), { isolates: 1, kvScript: LAGGING_KV, vars: { CONFIG_POLL_INTERVAL_MS: "50" } });
});

afterAll(async () => {
  await mesh?.dispose();
  await Promise.all([a?.close(), b?.close()]);
});

describe("a lagging snapshot read", () => {
  it("never takes an isolate back to a version it has left", async () => {
    await waitFor("the seed served", async () => (await serverOf()) === "a", { timeoutMs: 10_000, intervalMs: 50 });
    expect((await mesh.admin("POST", "/config/apply", { documents: documentsFor("b") })).status).toBe(200);
    await waitFor("the applied version served", async () => (await serverOf()) === "b", { timeoutMs: 10_000, intervalMs: 20 });
    // Every other poll now reads the previous snapshot: across many polls, the isolate stays on b.
    const servers: string[] = [];
    for (let i = 0; i < 40; i++) {
      servers.push(await serverOf());
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    expect(new Set(servers)).toEqual(new Set(["b"]));
  });
});
