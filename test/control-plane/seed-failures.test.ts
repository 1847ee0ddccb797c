/**
 * A new deploy's isolates hand its policies to the ConfigStore (the seed) before they take what it
 * publishes. A seed that is slow (here: the new policies name a jwksUri that never answers, which the
 * store fetches before it publishes) or that fails must not leave an isolate on its bundle alone: the
 * registry, keys and last version the store already published serve meanwhile, and the isolate says
 * why in /admin/status. A bundle the store cannot hold (a document over the 1 MiB limit) is refused
 * before anything is written, so the store stays on the last version it took. Three deploys over one
 * persisted state, real workerd, real loopback upstreams.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { simpleRoute } from "../support/policies.ts";
import { Upstream, type Echo } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

let up: Upstream;
let silentJwks: Server;
let silentUrl: string;
let dir: string;

const pool = { apiVersion: "edgemesh.dev/v1alpha1", kind: "Backend", metadata: { name: "pool" }, spec: { endpoints: [], registration: { allowedCIDRs: ["127.0.0.0/8"] } } };
const firstDeploy = () => [pool, simpleRoute("pool", "pool.test", "pool")];
const secondDeploy = () => [
  ...firstDeploy(),
  {
    apiVersion: "edgemesh.dev/v1alpha1",
    kind: "RequestAuthentication",
    metadata: { name: "users", namespace: "edgemesh" },
    spec: { jwtRules: [{ issuer: "https://users.test", audiences: ["pool"], jwksUri: silentUrl }] },
  },
];
// A valid document too big to store: one SQLite row holds at most 2 MB, and the limit per document is 1 MiB.
const tooBig = () => [...firstDeploy(), { ...pool, metadata: { name: "big", annotations: { padding: "x".repeat(1_100_000) } } }];
type Status = { isolate: { tableVersion: number | null; controlPlane: { version: number | null; lastError: string | null } } };
const status = async (mesh: TestGateway) => (await mesh.admin<Status>("GET", "/status")).body.isolate;

beforeAll(async () => {
  up = await Upstream.start("registered");
  // Takes the connection and never answers: the store's JWKS fetch runs into its own timeout (5 s).
  silentJwks = createServer(() => undefined);
  await new Promise<void>((resolve) => silentJwks.listen(0, "127.0.0.1", resolve));
  silentUrl = `http://127.0.0.1:${(silentJwks.address() as { port: number }).port}/jwks.json`;
  dir = mkdtempSync(join(tmpdir(), "edgemesh-seed-"));
});

afterAll(async () => {
  silentJwks?.closeAllConnections();
  await new Promise((resolve) => silentJwks?.close(resolve));
  await up?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("a new deploy whose seed is slow", () => {
  it("serves the registry and version the store published while the seed runs, then takes the new version", async () => {
    const first = await TestGateway.start(firstDeploy(), { isolates: 1, persistDir: dir, vars: { CONFIG_POLL_INTERVAL_MS: "100" } });
    try {
      expect((await first.admin("POST", "/backends/pool/endpoints", { url: up.url, ttlSeconds: 3600 })).status).toBe(201);
      await waitFor("the registered endpoint served", async () => (await first.fetch("http://pool.test/")).status === 200, { timeoutMs: 10_000, intervalMs: 50 });
    } finally {
      await first.dispose();
    }

    const second = await TestGateway.start(secondDeploy(), { isolates: 1, persistDir: dir, vars: { CONFIG_POLL_INTERVAL_MS: "100" } });
    try {
      // The seed takes over 2 s (the gateway gives up on it then, and the next poll finds the bundle
      // taken); long before, the isolate serves what the store published: version 1 and its registry.
      await waitFor("the store's version 1 and registry taken while the seed runs", async () => (await status(second)).controlPlane.version === 1, { timeoutMs: 1_500, intervalMs: 20 });
      for (let i = 0; i < 10; i++) expect(((await (await second.fetch("http://pool.test/")).json()) as Echo).server).toBe("registered");
      await waitFor("the seed's timeout logged", async () => second.logs.some((line) => line.message === "deploy policies not seeded; serving what the control plane has"), { timeoutMs: 10_000, intervalMs: 50 });
      // Once the store has published the new deploy's version, the isolate takes it, registry and all.
      await waitFor(
        "the second deploy's version taken, with no error left",
        async () => {
          const { tableVersion, controlPlane } = await status(second);
          return tableVersion === 2 && controlPlane.lastError === null;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      expect(((await (await second.fetch("http://pool.test/")).json()) as Echo).server).toBe("registered");
    } finally {
      await second.dispose();
    }
  });

  it("a bundle too big to store is refused before anything is written: the store stays on its version, and the isolate says why", async () => {
    const third = await TestGateway.start(tooBig(), { isolates: 1, persistDir: dir, vars: { CONFIG_POLL_INTERVAL_MS: "100" } });
    try {
      await waitFor("the refusal in /admin/status", async () => (await status(third)).controlPlane.lastError !== null, { timeoutMs: 10_000, intervalMs: 50 });
      const { controlPlane } = await status(third);
      expect(controlPlane.version).toBe(2);
      expect(controlPlane.lastError).toMatch(/^this deploy's policies could not be handed to the ConfigStore \(.*the policies bundled with this deploy cannot be stored: document 3 \(MESH_POLICIES\) is \d+ bytes as JSON; the limit per document is 1048576 bytes \(1 MiB\).*\); serving version 2 until a later try does$/);
      expect(((await (await third.fetch("http://pool.test/")).json()) as Echo).server).toBe("registered");
      // Refused, never marked taken (and not sent again on every poll): the versions are those of the first two deploys.
      const versions = (await third.admin<{ versions: { version: number }[] }>("GET", "/config/versions")).body.versions.map((entry) => entry.version);
      expect(versions).toEqual([2, 1]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await status(third)).controlPlane.lastError).toMatch(/cannot be stored/);
      // Polled every 100 ms, the bundle was sent once: the next try waits 30 s.
      expect(third.logs.filter((line) => line.message === "deploy policies not seeded; serving what the control plane has")).toHaveLength(1);
    } finally {
      await third.dispose();
    }
  });
});
