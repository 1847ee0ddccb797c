/**
 * The staleness bound (CONFIG_POLL_INTERVAL_MS): no request is served by a table read longer ago than
 * that, idle spells included, and a control plane that stops answering costs a request no more than
 * a short, bounded wait before it gets the last good table.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { Upstream, type Echo } from "../support/upstream.ts";
import { HANG_MARKER, HANGING_KV } from "../support/hanging-kv.ts";

let a: Upstream;
let b: Upstream;

const BOUND_MS = 1000;
const documentsFor = (target: string, extra: unknown[] = []) => [backend("a", [a.url]), backend("b", [b.url]), simpleRoute("app", "app.test", target), ...extra];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The upstream that answered, or "no answer" when nothing came within `boundMs`. */
async function serverOf(mesh: TestGateway, isolate = 0, boundMs = 10_000): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<string>((resolve) => (timer = setTimeout(() => resolve("no answer"), boundMs)));
  const answer = mesh.fetch("http://app.test/", {}, isolate).then(async (response) => ((await response.json()) as Echo).server);
  try {
    return await Promise.race([answer, bound]);
  } finally {
    clearTimeout(timer);
  }
}

async function servedBy(mesh: TestGateway, server: string, isolate = 0): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if ((await serverOf(mesh, isolate)) === server) return true;
    await sleep(50);
  }
  return false;
}

beforeAll(async () => {
  a = await Upstream.start("a");
  b = await Upstream.start("b");
});

afterAll(async () => {
  await Promise.all([a.close(), b.close()]);
});

describe("after an idle spell longer than the bound", () => {
  let mesh: TestGateway;
  beforeAll(async () => {
    mesh = await TestGateway.start(documentsFor("a"), { isolates: 3, vars: { CONFIG_POLL_INTERVAL_MS: String(BOUND_MS) } });
  });
  afterAll(() => mesh?.dispose());

  it("serves the first request with the version applied meanwhile, on every isolate", async () => {
    for (const isolate of [0, 1, 2]) expect(await servedBy(mesh, "a", isolate)).toBe(true);
    const { body } = await mesh.admin<{ version: number; published: boolean }>("POST", "/config/apply", { documents: documentsFor("b") });
    expect(body).toMatchObject({ version: 2, published: true });
    // No traffic for more than the bound: each isolate's table is now too old to serve.
    await sleep(BOUND_MS * 2.5);
    expect(await Promise.all([0, 1, 2].map((isolate) => serverOf(mesh, isolate)))).toEqual(["b", "b", "b"]);
  });
});


describe("a KV namespace that stops answering", () => {
  let mesh: TestGateway;
  beforeAll(async () => {
    mesh = await TestGateway.start(documentsFor("a"), { isolates: 1, kvScript: HANGING_KV, vars: { CONFIG_POLL_INTERVAL_MS: String(BOUND_MS) } });
  });
  afterAll(() => mesh?.dispose());

  it("answers every request past the bound with the last good version: none hangs on the read", async () => {
    expect(await servedBy(mesh, "a")).toBe(true);
    expect((await mesh.admin("POST", "/config/apply", { documents: documentsFor("b") })).body).toMatchObject({ version: 2, published: true });
    expect(await servedBy(mesh, "b")).toBe(true);
    // Version 3 would send app.test back to a, but reaching KV is the last thing its snapshot does.
    const hang = documentsFor("a", [backend(HANG_MARKER, [a.url])]);
    expect((await mesh.admin("POST", "/config/apply", { documents: hang })).body).toMatchObject({ version: 3, published: true });
    await sleep(BOUND_MS * 2.5);
    // Every one of these finds the table too old and a read that never ends: none may hang.
    expect(await Promise.all(Array.from({ length: 5 }, () => serverOf(mesh)))).toEqual(Array(5).fill("b"));
    await sleep(BOUND_MS * 2.5);
    expect(await serverOf(mesh)).toBe("b");
    const status = await mesh.admin<{ isolate: { tableVersion: number; controlPlane: { lastError: string | null } } }>("GET", "/status");
    expect(status.body.isolate.tableVersion).toBe(2);
    expect(status.body.isolate.controlPlane.lastError).toContain("no answer within 2000 ms");
  });
});
