/**
 * The dashboard in real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
 * sign-in through the form, a page without console errors or failed requests that draws the mesh's
 * services and edges, follows new traffic, keeps the token out of URLs and out of script's reach,
 * refuses a cookie-authenticated change without the CSRF header, and renders hostile text as text.
 */
import { existsSync, mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute, trafficPolicy } from "../support/policies.ts";
import { Upstream } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

const CHROMIUM = "/usr/bin/chromium";

// The browser's globals, as the page.evaluate callbacks use them (this project's Node tsconfig has no DOM library).
declare const document: { querySelector(selector: string): { textContent: string | null } | null; cookie: string };
declare const window: object;
declare const localStorage: object;
declare const sessionStorage: object;
const HOSTILE = `<img src=x onerror="window.__pwned=1">`;
const id = (service: string) => `spiffe://edgemesh.local/ns/default/sa/${service}`;

let upstreams: Upstream[] = [];
let mesh: TestGateway;
let browser: Browser;
let page: Page;
let origin: string;
const requested: string[] = [];
const problems: string[] = [];

const policies = (upstream: (name: string) => string) => [
  ...["details", "reviews", "ratings"].flatMap((name) => [backend(name, [upstream(name)]), simpleRoute(name, `${name}.test`, name)]),
  { apiVersion: "edgemesh.dev/v1alpha1", kind: "ServiceLevelObjective", metadata: { name: "ratings-availability" }, spec: { backend: "ratings", objective: { type: "Availability", target: 99.9 } } },
];

beforeAll(async () => {
  upstreams = await Promise.all(["details", "reviews", "ratings"].map((name) => Upstream.start(name)));
  const urlOf = (name: string) => upstreams.find((up) => up.name === name)!.url;
  mesh = await TestGateway.start(policies(urlOf), {
    isolates: 1,
    vars: { METRICS_FLUSH_INTERVAL_MS: "200" },
    callers: ["productpage", "reviews", "ops"].map((name) => ({ name, props: { service: name } })),
  });
  // The demo's shape: productpage → details, reviews; reviews → ratings.
  for (let i = 0; i < 5; i++) {
    expect((await mesh.fetchAs("productpage", "http://details.test/details/1")).status).toBe(200);
    expect((await mesh.fetchAs("productpage", "http://reviews.test/reviews/1")).status).toBe(200);
    expect((await mesh.fetchAs("reviews", "http://ratings.test/ratings/1")).status).toBe(200);
  }
  // A new version whose message is markup, and a rate limit to show.
  const applied = await mesh.admin("POST", "/config/apply", {
    documents: [...policies(urlOf), trafficPolicy("details-limit", { kind: "HTTPRoute", name: "details" }, { rateLimit: { local: { rules: [{ name: "per-caller", limit: { requests: 1000, unit: "Minute" } }] } } })],
    message: HOSTILE,
  });
  expect(applied.status, JSON.stringify(applied.body)).toBe(200);
  origin = await mesh.url();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-background-networking"] });
  page = await browser.newPage();
  page.on("request", (request) => requested.push(request.url()));
  page.on("console", (message) => message.type() === "error" && problems.push(`console: ${message.text()}`));
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`));
  page.on("response", (response) => response.status() >= 400 && problems.push(`HTTP ${response.status()}: ${response.url()}`));
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await mesh?.dispose();
  await Promise.all(upstreams.map((up) => up.close()));
});

const nodeIds = () => page.$$eval("#graph [data-node]", (nodes) => nodes.map((node) => node.getAttribute("data-node")));
const edgeSources = () => page.$$eval("#graph .edge", (edges) => edges.map((edge) => `${edge.getAttribute("data-source")} → ${edge.getAttribute("data-destination")}`));

describe.runIf(existsSync(CHROMIUM))("the dashboard in Chromium", () => {
  it("serves the page with a strict Content-Security-Policy and without any data", async () => {
    const response = await fetch(`${origin}/admin/ui`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    expect(response.headers.get("content-security-policy")).toContain("default-src 'self'; script-src 'self'");
    const html = await response.text();
    expect(html).not.toContain(ADMIN_TOKEN);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline script
    // The data is not: without a credential, 401.
    expect((await fetch(`${origin}/admin/graph`)).status).toBe(401);
  });

  it("signs in only with an accepted token, in a JSON body with the UI's header; the cookie is Secure over https", async () => {
    const signIn = (body: string, headers: Record<string, string> = { "content-type": "application/json", "x-edgemesh-ui": "1" }, url = "http://admin.test/admin/ui/session") =>
      mesh.fetch(url, { method: "POST", headers, body });
    expect((await signIn(JSON.stringify({ token: "wrong" }))).status).toBe(401);
    expect((await signIn(JSON.stringify({ token: ADMIN_TOKEN }), { "content-type": "application/json" })).status).toBe(403);
    expect((await signIn(`token=${ADMIN_TOKEN}`, { "content-type": "application/x-www-form-urlencoded", "x-edgemesh-ui": "1" })).status).toBe(415);
    expect((await signIn(JSON.stringify({ token: ADMIN_TOKEN, extra: 1 }))).status).toBe(400);
    const plain = await signIn(JSON.stringify({ token: ADMIN_TOKEN }));
    expect(plain.status).toBe(200);
    expect(plain.headers.get("set-cookie")).toMatch(/^edgemesh_session=[^;]+; Max-Age=28800; Path=\/admin; HttpOnly; SameSite=Strict$/);
    const secure = await signIn(JSON.stringify({ token: ADMIN_TOKEN }), undefined, "https://admin.test/admin/ui/session");
    expect(secure.headers.get("set-cookie")).toMatch(/; Secure/);
    const cookie = plain.headers.get("set-cookie")!.split(";")[0]!;
    expect((await mesh.json("http://admin.test/admin/ui/session", { headers: { cookie } })).body).toEqual({ signedIn: true });
    expect((await mesh.json("http://admin.test/admin/ui/session")).body).toEqual({ signedIn: false });
    expect((await mesh.json("http://admin.test/admin/ui/session", { headers: { cookie: "edgemesh_session=wrong" } })).body).toEqual({ signedIn: false });
    expect((await mesh.fetch("http://admin.test/admin/graph", { headers: { cookie: "edgemesh_session=wrong" } })).status).toBe(401);
  });

  it("serves the dashboard's data: a service's minutes, route vs attempt totals, this isolate's recent requests", async () => {
    type Series = { service: string; points: { at: number; requests: number; successRate: number | null }[] };
    const series = await mesh.admin<Series>("GET", "/metrics/series?service=ratings&minutes=5");
    expect(series.status).toBe(200);
    expect(series.body.points).toHaveLength(5);
    expect(series.body.points.reduce((sum, point) => sum + point.requests, 0)).toBe(5);
    expect((await mesh.admin("GET", "/metrics/series?minutes=0")).status).toBe(400);
    const services = await mesh.admin<{ services: { service: string; requests: number; attempts: number }[] }>("GET", "/metrics/services");
    expect(services.body.services.find((s) => s.service === "details")).toMatchObject({ requests: 5, attempts: 5 });
    const recent = await mesh.admin<{ scope: string; capacity: number; requests: { path: string; traceId: string; source: string | null }[] }>("GET", "/requests/recent?limit=2");
    expect(recent.body).toMatchObject({ scope: "isolate", capacity: 200 });
    expect(recent.body.requests).toHaveLength(2);
    expect(recent.body.requests[0]).toMatchObject({ path: "/ratings/1", source: id("reviews") });
    expect(recent.body.requests[0]!.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it("signs in through the form and draws the services and edges, without console errors or failed requests", async () => {
    await page.goto(`${origin}/admin/ui`);
    await page.waitForSelector("#sign-in-form", { state: "visible" });
    await page.fill("#token", ADMIN_TOKEN);
    await page.click("#sign-in-form button[type=submit]");
    await page.waitForSelector("#dashboard", { state: "visible", timeout: 10_000 });
    await waitFor("the demo's four services in the graph", async () => (await nodeIds()).length === 4, { timeoutMs: 15_000, intervalMs: 100 });
    expect((await nodeIds()).sort()).toEqual(["details", "productpage", "ratings", "reviews"].map(id));
    expect((await edgeSources()).sort()).toEqual([`${id("productpage")} → ${id("details")}`, `${id("productpage")} → ${id("reviews")}`, `${id("reviews")} → ${id("ratings")}`]);
    const labels = await page.$$eval("#graph .node text", (texts) => texts.map((text) => text.textContent));
    expect(labels.sort()).toEqual(["details", "productpage", "ratings", "reviews"]);
    expect(await page.$$eval("#graph .edge.ok", (edges) => edges.length)).toBe(3);
    // The other views filled in: route vs attempt level, recent requests, rate limits, versions, SLOs.
    await page.waitForFunction(() => document.querySelector("#services")?.textContent?.includes("ratings"), undefined, { timeout: 20_000 });
    await page.waitForFunction(() => document.querySelector("#recent")?.textContent?.includes("/ratings/1"), undefined, { timeout: 20_000 });
    await page.waitForFunction(() => document.querySelector("#ratelimits")?.textContent?.includes("per-caller"), undefined, { timeout: 20_000 });
    await page.waitForFunction(() => document.querySelector("#diff")?.textContent?.includes("details-limit"), undefined, { timeout: 20_000 });
    await page.waitForFunction(() => (document.querySelector("#chart-rps path.line") ?? null) !== null, undefined, { timeout: 20_000 });
    await page.waitForFunction(() => document.querySelector("#slos")?.textContent?.includes("default/ratings-availability"), undefined, { timeout: 20_000 });
    expect(await page.textContent("#slos")).toContain("99.9% over 28d");
    expect(await page.textContent("#alerts")).toContain("no alerts firing");
    expect(problems).toEqual([]);
  });

  it("changes after new traffic: a new caller's edge appears within a bounded wait", async () => {
    for (let i = 0; i < 3; i++) expect((await mesh.fetchAs("ops", "http://ratings.test/ratings/2")).status).toBe(200);
    await waitFor("the new caller's edge on the page", async () => (await edgeSources()).includes(`${id("ops")} → ${id("ratings")}`), { timeoutMs: 15_000, intervalMs: 200 });
    expect(await nodeIds()).toContain(id("ops"));
    // One round at a time: over 6 s (three rounds, one of them maybe a slow one) a bounded number of requests.
    const before = requested.length;
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(requested.length - before).toBeLessThanOrEqual(50);
    mkdirSync("test-results", { recursive: true });
    await page.screenshot({ path: "test-results/dashboard.png", fullPage: true });
    expect(problems).toEqual([]);
  });

  it("renders hostile text as text", async () => {
    await page.waitForFunction((text) => document.querySelector("#versions")?.textContent?.includes(text), HOSTILE, { timeout: 20_000 });
    expect(await page.textContent("#audit")).toContain("onerror");
    expect(await page.$$eval("img", (images) => images.length)).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  });

  it("keeps the token out of every URL and out of document.cookie (HttpOnly, SameSite=Strict, Path=/admin)", async () => {
    expect(requested.length).toBeGreaterThan(10);
    expect(requested.filter((url) => url.includes(ADMIN_TOKEN) || url.includes(encodeURIComponent(ADMIN_TOKEN)))).toEqual([]);
    expect(await page.evaluate(() => document.cookie)).toBe("");
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))).toBe("{}{}");
    expect(await page.content()).not.toContain(ADMIN_TOKEN);
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({ name: "edgemesh_session", httpOnly: true, sameSite: "Strict", path: "/admin", secure: false });
    expect(cookie!.expires - Date.now() / 1000).toBeGreaterThan(7.9 * 3600);
  });

  it("refuses a cookie-authenticated change without the CSRF header (403), and accepts reads and headed changes", async () => {
    const statuses = await page.evaluate(async () => {
      // An empty body: past authentication, the headed one fails validation (400) and changes nothing.
      const post = (headers: Record<string, string>) =>
        fetch("/admin/config/rollback", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" }).then((r) => r.status);
      return {
        bare: await post({}),
        headed: await post({ "x-edgemesh-ui": "1" }),
        read: (await fetch("/admin/status")).status,
        signIn: (await fetch("/admin/ui/session", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status,
      };
    });
    expect(statuses).toEqual({ bare: 403, headed: 400, read: 200, signIn: 403 });
    problems.length = 0; // the 403s above were the point
  });

  it("signs out: the cookie is gone and the data refused", async () => {
    await page.click("#sign-out");
    await page.waitForSelector("#sign-in-form", { state: "visible" });
    expect(await page.context().cookies()).toEqual([]);
    expect(await page.evaluate(() => fetch("/admin/graph").then((r) => r.status))).toBe(401);
  });
});
