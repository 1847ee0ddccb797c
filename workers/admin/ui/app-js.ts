/**
 * app.js: the dashboard's sign-in and refresh loop. Signed in, it reads the admin API every
 * REFRESH_MS (the slower views every SLOW_EVERY rounds), one round at a time: the next round starts
 * only after the last has ended and each request gives up after TIMEOUT_MS, so requests never pile
 * up. A hidden tab reads nothing. The credential is sent once, in a POST body; the cookie it yields
 * is HttpOnly, so nothing here ever holds it after sign-in.
 */
export const APP_JS = String.raw`
import { drawGraph } from "./graph.js";
import { code, dateTime, el, fillTable, health, lineChart, ms, percent, rate, shortId, time } from "./views.js";

const REFRESH_MS = 2000, SLOW_EVERY = 3, TIMEOUT_MS = 5000;
const $ = (id) => document.getElementById(id);
const state = { round: 0, service: "", session: 0, optional: null, diffPair: null };

class SignedOut extends Error {}

async function api(path, init = {}) {
  const response = await fetch("/admin" + path, {
    ...init,
    credentials: "same-origin",
    cache: "no-store",
    headers: { accept: "application/json", "x-edgemesh-ui": "1", ...(init.body ? { "content-type": "application/json" } : {}) },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (response.status === 401) throw new SignedOut();
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new Error((body && body.error && body.error.message) || "HTTP " + response.status);
  return body;
}

/** One view's failure shows in its place and does not stop the others. */
async function section(target, load) {
  try {
    await load();
  } catch (error) {
    if (error instanceof SignedOut) throw error;
    const node = $(target);
    const message = el("p", { class: "bad" }, "could not load: " + error.message);
    if (node.tagName === "TABLE") node.replaceChildren(el("tbody", {}, el("tr", {}, el("td", {}, message))));
    else node.replaceChildren(message);
  }
}

// The views ---------------------------------------------------------------------------------------

async function graphView() {
  drawGraph($("graph"), await api("/graph?window=5"));
}

async function servicesView() {
  const { services } = await api("/metrics/services");
  const names = services.map((s) => s.service);
  if (!state.service || !names.includes(state.service)) state.service = names[0] || "";
  const select = $("service");
  if (select.dataset.names !== JSON.stringify(names)) {
    select.replaceChildren(...names.map((name) => el("option", { value: name }, name)));
    select.dataset.names = JSON.stringify(names);
  }
  select.value = state.service;
  const ratio = (ok, all) => (all ? (all - ok) / all : null);
  fillTable(
    $("services"),
    ["service", { label: "requests", num: 1 }, { label: "success", num: 1 }, { label: "attempts", num: 1 }, { label: "attempt success", num: 1 }, { label: "attempts / request", num: 1 }, { label: "retries", num: 1 }, { label: "rate limited", num: 1 }],
    services.map((s) => [
      s.service,
      s.requests,
      el("span", { class: health(ratio(s.requestFailures, s.requests)) }, percent(ratio(s.requestFailures, s.requests))),
      s.attempts,
      el("span", { class: health(ratio(s.attemptFailures, s.attempts)) }, percent(ratio(s.attemptFailures, s.attempts))),
      s.requests ? (s.attempts / s.requests).toFixed(2) : "–",
      s.retries,
      s.rateLimited,
    ]),
    { empty: "no traffic yet", onRow: (i) => selectService(services[i].service) },
  );
}

async function seriesView() {
  if (!state.service) return;
  const { points } = await api("/metrics/series?minutes=60&service=" + encodeURIComponent(state.service));
  const xs = points.map((p) => p.at);
  lineChart($("chart-success"), xs, [points.map((p) => p.successRate)], { format: percent, max: 1 });
  lineChart($("chart-rps"), xs, [points.map((p) => p.requestsPerSecond)], { format: (v) => v.toFixed(v >= 10 ? 0 : 2) });
  const latency = (q) => points.map((p) => (p.latencySeconds[q] === null ? null : p.latencySeconds[q] * 1000));
  lineChart($("chart-latency"), xs, [latency("p50"), latency("p95"), latency("p99")], { format: (v) => v.toFixed(v >= 10 ? 0 : 1) });
}

async function backendsView() {
  const { backends } = await api("/backends");
  const details = await Promise.all(backends.map((b) => api("/backends/" + b.name.split("/").map(encodeURIComponent).join("/")).catch(() => b)));
  const rows = [];
  for (const backend of details) {
    const ejected = (backend.health && backend.health.global && backend.health.global.endpoints) || {};
    for (const endpoint of backend.endpoints) {
      const global = ejected[endpoint.id];
      rows.push([
        backend.name,
        code(endpoint.id),
        el("span", { class: endpoint.eligible ? "ok" : "bad" }, endpoint.eligible ? "serving" : "not eligible"),
        global ? el("span", { class: "bad" }, global.state + " until " + time(global.until) + " (" + global.ejections + "×)") : "–",
        endpoint.inFlight,
      ]);
    }
  }
  fillTable($("backends"), ["backend", "endpoint", "this isolate", "mesh-wide ejection", { label: "in flight", num: 1 }], rows, { empty: "no backends" });
}

async function rateLimitsView() {
  const { rules } = await api("/ratelimits");
  fillTable(
    $("ratelimits"),
    ["rule", "scope", { label: "limit", num: 1 }, { label: "granted / calls (mesh)", num: 1 }, { label: "keys", num: 1 }],
    rules.map((r) => [r.name, r.scope, r.requests + " / " + r.windowMs / 1000 + " s", r.global ? r.global.granted + " / " + r.global.calls : "–", r.global ? r.global.keys : "–"]),
    { empty: "no rate limits" },
  );
}

/** /admin/slos and /admin/alerts may not exist in this deployment: asked only when its API lists them. */
async function optionalView(path, target, render, none) {
  if (state.optional === null) {
    const spec = await api("/openapi.json");
    state.optional = new Set(Object.keys(spec.paths || {}));
  }
  // The document lists paths with or without the /admin base, depending on how the route was mounted.
  if (!state.optional.has(path) && !state.optional.has("/admin" + path)) return void $(target).replaceChildren(el("p", { class: "muted" }, none));
  const response = await fetch("/admin" + path, { credentials: "same-origin", headers: { accept: "application/json" }, signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (response.status === 404) return void $(target).replaceChildren(el("p", { class: "muted" }, none));
  if (response.status === 401) throw new SignedOut();
  render(await response.json());
}

async function slosView() {
  await optionalView("/slos", "slos", (body) => {
    const items = body.objectives || [];
    const table = el("table");
    const burn = (o, w) => (o.burnRates && o.burnRates[w] !== undefined ? Number(o.burnRates[w]).toFixed(2) + "×" : "–");
    fillTable(table, ["objective", "kind", "target", { label: "budget left", num: 1 }, { label: "burn 1h", num: 1 }, { label: "burn 6h", num: 1 }, { label: "burn 3d", num: 1 }], items.map((o) => [
      o.id ?? "", o.type ?? "", o.target !== undefined ? o.target + "% over " + o.windowDays + "d" : "–",
      o.errorBudgetRemaining !== undefined ? percent(o.errorBudgetRemaining) : "–",
      burn(o, "1h"), burn(o, "6h"), burn(o, "3d"),
    ]), { empty: "no objectives" });
    $("slos").replaceChildren(table);
  }, "no objectives");
  await optionalView("/alerts", "alerts", (body) => {
    const items = (body.alerts || []).filter((a) => a.state === "firing");
    $("alerts").replaceChildren(items.length ? el("ul", {}, ...items.map((a) => el("li", { class: a.severity === "page" ? "bad" : "warn" }, a.severity + " " + a.id + ": " + a.summary))) : el("p", { class: "muted" }, "no alerts firing"));
  }, "no alerts");
}

async function configView() {
  const { versions } = await api("/config/versions?limit=10");
  fillTable($("versions"), [{ label: "version", num: 1 }, "when", "who", "action", "message"], versions.map((v) => [v.version, dateTime(v.createdAt), v.actor, v.action, v.message]), {
    empty: "no versions",
    onRow: (i) => versions[i + 1] && showDiff(versions[i + 1].version, versions[i].version),
  });
  if (versions.length >= 2 && !state.diffPair) state.diffPair = [versions[1].version, versions[0].version];
  if (state.diffPair) await showDiff(...state.diffPair);
}

async function showDiff(from, to) {
  state.diffPair = [from, to];
  $("diff-title").textContent = "version " + from + " → " + to;
  const { changes } = await api("/config/diff?from=" + from + "&to=" + to);
  const rows = [];
  for (const change of changes) {
    const fields = change.fields || [{}];
    for (const field of fields) rows.push([change.object, change.change, field.path || "", field.from === undefined ? "" : code(JSON.stringify(field.from)), field.to === undefined ? "" : code(JSON.stringify(field.to))]);
  }
  fillTable($("diff"), ["object", "change", "field", "from", "to"], rows, { empty: "no changes" });
}

async function auditView() {
  const { entries } = await api("/audit?limit=20");
  fillTable($("audit"), ["when", "who", "action", "versions", "detail"], entries.map((e) => [
    dateTime(e.at), e.actor, e.action, (e.fromVersion ?? "–") + " → " + (e.toVersion ?? "–"), code(JSON.stringify(e.detail ?? null).slice(0, 300)),
  ]), { empty: "no entries" });
}

async function recentView() {
  const { requests } = await api("/requests/recent?limit=50");
  fillTable(
    $("recent"),
    ["time", "method", "host", "path", { label: "status", num: 1 }, "reason", { label: "latency", num: 1 }, { label: "attempts", num: 1 }, "route", "caller", "trace id"],
    requests.map((r) => [
      time(r.at), r.method, r.host, r.path,
      el("span", { class: r.status >= 500 ? "bad" : r.status >= 400 ? "warn" : "ok" }, r.status),
      r.reason || "", ms(r.latencyMs / 1000), r.attempts, r.route || "", r.source ? shortId(r.source) : "anonymous",
      code(r.traceId + (r.sampled ? "" : " (unsampled)")),
    ]),
    { empty: "no requests through this isolate yet" },
  );
}

async function statusView() {
  const status = await api("/status");
  $("status").textContent = "version " + status.isolate.tableVersion + " (control plane " + status.controlPlane.version + ")";
}

// The loop ----------------------------------------------------------------------------------------

async function round() {
  const fast = [section("status", statusView), section("graph", graphView), section("services", servicesView).then(() => section("chart-success", seriesView)), section("recent", recentView)];
  const slow = state.round % SLOW_EVERY === 0 ? [section("backends", backendsView), section("ratelimits", rateLimitsView), section("slos", slosView), section("versions", configView), section("audit", auditView)] : [];
  state.round++;
  await Promise.all([...fast, ...slow]);
  $("updated").textContent = "updated " + time(Date.now());
}

async function loop(session) {
  while (state.session === session) {
    const started = Date.now();
    if (!document.hidden) {
      try {
        await round();
      } catch (error) {
        if (error instanceof SignedOut) return showSignIn("signed out: the session ended or the token changed");
        $("updated").textContent = "update failed: " + error.message;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(200, REFRESH_MS - (Date.now() - started))));
  }
}

function selectService(name) {
  state.service = name;
  $("service").value = name;
  section("chart-success", seriesView);
}

function showDashboard() {
  $("sign-in").hidden = true;
  $("dashboard").hidden = false;
  $("sign-out").hidden = false;
  state.session++;
  state.round = 0;
  loop(state.session);
}

function showSignIn(message = "") {
  state.session++;
  $("dashboard").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("status").textContent = "signed out";
  $("sign-in-error").textContent = message;
  $("token").focus();
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("token");
  try {
    await api("/ui/session", { method: "POST", body: JSON.stringify({ token: input.value }) });
    input.value = "";
    showDashboard();
  } catch (error) {
    $("sign-in-error").textContent = error instanceof SignedOut ? "that token is not accepted" : error.message;
  }
});

$("sign-out").addEventListener("click", async () => {
  await api("/ui/session", { method: "DELETE" }).catch(() => {});
  showSignIn();
});

$("service").addEventListener("change", (event) => selectService(event.target.value));

api("/ui/session").then(({ signedIn }) => (signedIn ? showDashboard() : showSignIn()), (error) => showSignIn(error.message));
`;
