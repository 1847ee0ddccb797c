/**
 * End-user issuers' keys by jwksUri: the ConfigStore fetches them (never a gateway's request path)
 * when a version naming the URI is applied and again on its alarm, and pushes them to every isolate
 * in the KV snapshot. A JWKS server that fails (down, a private key in the set, an oversized answer)
 * never replaces the last good keys; a key rotated at the server is picked up by the alarm's
 * refresh. A jwksUri at a cloud metadata address is refused by apply. Two gateway isolates, a real
 * loopback JWKS server and upstream.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { Upstream } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

const ISSUER = "https://idp.test";
const REFRESH_MS = 1_000;
const ISOLATES = 2;

interface Key {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function key(kid: string, alg: "RS256" | "ES256"): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

const mint = (signer: Key) => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, aud: "shop", sub: `user-of-${signer.kid}`, iat: now, exp: now + 600 })
    .setProtectedHeader({ alg: signer.publicJwk.alg!, kid: signer.kid })
    .sign(signer.privateKey);
};

type Mode = "ok" | "down" | "private" | "huge";

/** A JWKS server on 127.0.0.1: what each path serves, and how it misbehaves on command. */
class JwksServer {
  mode: Mode = "ok";
  readonly sets = new Map<string, JWK[]>();
  /** Requests per mode, to wait for the store's next try. */
  readonly hits: Record<Mode, number> = { ok: 0, down: 0, private: 0, huge: 0 };
  private constructor(private readonly server: Server) {}

  static async start(): Promise<JwksServer> {
    let self: JwksServer;
    const server = createServer((request, response) => {
      self.hits[self.mode]++;
      const keys = self.sets.get(request.url ?? "");
      if (self.mode === "down" || !keys) return response.writeHead(503).end();
      const body =
        self.mode === "private"
          ? { keys: keys.map((one) => ({ ...one, d: "AAAA" })) }
          : self.mode === "huge"
            ? { keys, padding: "x".repeat(70_000) }
            : { keys };
      response.writeHead(200, { "content-type": "application/jwk-set+json" }).end(JSON.stringify(body));
    });
    self = new JwksServer(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return self;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let jwks: JwksServer;
let upstream: Upstream;
let mesh: TestGateway;
let a: Key;
let b: Key;
let c: Key;

const documents = (jwksPath: string) => [
  backend("shop", [upstream.url]),
  simpleRoute("shop", "shop.test", "shop"),
  {
    apiVersion: "edgemesh.dev/v1alpha1",
    kind: "RequestAuthentication",
    metadata: { name: "users", namespace: "edgemesh" },
    spec: { jwtRules: [{ issuer: ISSUER, audiences: ["shop"], jwksUri: jwks.url(jwksPath), outputClaimToHeaders: [{ header: "x-user", claim: "sub" }] }] },
  },
];

async function statusWith(signer: Key, isolate: number): Promise<number> {
  const response = await mesh.fetch("http://shop.test/", { headers: { authorization: `Bearer ${await mint(signer)}` } }, isolate);
  await response.arrayBuffer();
  return response.status;
}

/** Every isolate answers `status` to a token of `signer`, within a bound (they poll the snapshot). */
async function everyIsolate(signer: Key, status: number, timeoutMs = 10_000): Promise<void> {
  for (let isolate = 0; isolate < ISOLATES; isolate++) {
    await waitFor(`isolate ${isolate} to answer ${status} to a token of ${signer.kid}`, async () => (await statusWith(signer, isolate)) === status, { timeoutMs, intervalMs: 50 });
  }
}

beforeAll(async () => {
  [jwks, upstream] = await Promise.all([JwksServer.start(), Upstream.start("shop")]);
  [a, b, c] = await Promise.all([key("a", "RS256"), key("b", "ES256"), key("c", "ES256")]);
  jwks.sets.set("/v1/jwks.json", [a.publicJwk]);
  jwks.sets.set("/v2/jwks.json", [b.publicJwk]);
  mesh = await TestGateway.start(documents("/v1/jwks.json"), {
    isolates: ISOLATES,
    vars: { CONFIG_POLL_INTERVAL_MS: "100", MESH_JWKS_REFRESH_MS: String(REFRESH_MS) },
  });
});

afterAll(async () => {
  await mesh?.dispose();
  await Promise.all([jwks?.close(), upstream?.close()]);
});

describe("keys by jwksUri", () => {
  it("are fetched for the seeded version and reach every isolate", async () => {
    await everyIsolate(a, 200);
    expect(upstream.received.at(-1)?.headers["x-user"]).toBe("user-of-a");
    // A token of a key the issuer never published is refused.
    expect(await statusWith(b, 0)).toBe(401);
  });

  it("are fetched when a version naming a new URI is applied, before apply answers, and pushed", async () => {
    const before = jwks.hits.ok;
    const applied = await mesh.admin<{ version: number; warnings: string[] }>("POST", "/config/apply", { documents: documents("/v2/jwks.json") });
    expect(applied.status).toBe(200);
    expect(applied.body.warnings).toEqual([]);
    expect(jwks.hits.ok).toBeGreaterThan(before);
    await everyIsolate(b, 200);
    // The store's snapshot carries only the URIs the current version names.
    const snapshot = (await (await mesh.durableObject("CONFIG_STORE", "config")).snapshot!()) as { jwks: Record<string, { keys: JWK[] }> };
    expect(Object.keys(snapshot.jwks)).toEqual([jwks.url("/v2/jwks.json")]);
    expect(snapshot.jwks[jwks.url("/v2/jwks.json")]!.keys.map((one) => one.kid)).toEqual(["b"]);
  });

  for (const mode of ["down", "private", "huge"] as const) {
    it(`keep the last good keys while the JWKS server is ${mode === "down" ? "down" : mode === "private" ? "serving a private key" : "serving an oversized answer"}`, async () => {
      jwks.mode = mode;
      const seen = jwks.hits[mode];
      // Two of the store's tries in this mode, by its alarm.
      await waitFor(`two JWKS fetches while ${mode}`, () => jwks.hits[mode] >= seen + 2, { timeoutMs: 10_000, intervalMs: 50 });
      try {
        for (let isolate = 0; isolate < ISOLATES; isolate++) expect(await statusWith(b, isolate)).toBe(200);
      } finally {
        jwks.mode = "ok";
      }
      const snapshot = (await (await mesh.durableObject("CONFIG_STORE", "config")).snapshot!()) as { jwks: Record<string, { keys: JWK[] }> };
      expect(snapshot.jwks[jwks.url("/v2/jwks.json")]!.keys.map((one) => one.kid)).toEqual(["b"]);
      expect(JSON.stringify(snapshot.jwks)).not.toContain('"d"');
    });
  }

  it("pick up a key rotated at the JWKS server by the alarm's refresh; the old key's tokens are then refused", async () => {
    jwks.sets.set("/v2/jwks.json", [c.publicJwk]);
    await everyIsolate(c, 200);
    await everyIsolate(b, 401);
    const response = await mesh.fetch("http://shop.test/", { headers: { authorization: `Bearer ${await mint(b)}` } });
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/^unknown_kid: /);
  });

  it("a URI named again after it left the configuration starts with no keys, not with those of long ago", async () => {
    // /v1 was the seed's and left with the first apply; its issuer may have revoked key a since.
    jwks.mode = "down";
    try {
      const applied = await mesh.admin<{ warnings: string[] }>("POST", "/config/apply", { documents: documents("/v1/jwks.json") });
      expect(applied.status).toBe(200);
      expect(applied.body.warnings).toEqual([expect.stringMatching(/could not be fetched .*tokens of its issuer are refused until a fetch succeeds/)]);
      const snapshot = (await (await mesh.durableObject("CONFIG_STORE", "config")).snapshot!()) as { jwks?: Record<string, unknown> };
      expect(snapshot.jwks ?? {}).toEqual({});
      await everyIsolate(a, 401);
    } finally {
      jwks.mode = "ok";
    }
    // The next fetch that succeeds (the store's alarm) brings the keys.
    await everyIsolate(a, 200);
  });

  it("a jwksUri at a cloud metadata address or over plain http to a public host is refused by apply", async () => {
    const bad = documents("/v2/jwks.json");
    const rule = (bad[2] as { spec: { jwtRules: { jwksUri: string }[] } }).spec.jwtRules[0]!;
    for (const [uri, expected] of [
      ["http://169.254.169.254/latest/meta-data/jwks", "must not point at a cloud metadata service (169.254.169.254)"],
      ["https://[::ffff:169.254.169.254]/jwks", "must not point at a cloud metadata service"],
      ["http://idp.example/jwks.json", "must use https"],
    ] as const) {
      rule.jwksUri = uri;
      const { status, body } = await mesh.admin<{ error: { message: string; errors?: unknown[] }; messages?: string[] }>("POST", "/config/apply", { documents: bad });
      expect(status).toBe(400);
      expect(JSON.stringify(body)).toContain("spec.jwtRules[0].jwksUri");
      expect(JSON.stringify(body)).toContain(expected);
    }
  });
});
