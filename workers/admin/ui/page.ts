/** The dashboard's page and stylesheet (index.ts serves them). The page is a skeleton; app.js fills it. */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>edgemesh dashboard</title>
<link rel="icon" href="/admin/ui/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/admin/ui/app.css">
<script type="module" src="/admin/ui/app.js"></script>
</head>
<body>
<header>
  <h1>edgemesh</h1>
  <span id="status" class="muted">loading…</span>
  <span id="updated" class="muted"></span>
  <button id="sign-out" type="button" hidden>Sign out</button>
</header>
<main>
<section id="sign-in" hidden>
  <h2>Sign in</h2>
  <p>The admin token (ADMIN_TOKEN), or a credential the admin API accepts. It is kept in a cookie this page cannot read, for 8 hours.</p>
  <form id="sign-in-form" method="post" action="/admin/ui/session" autocomplete="off">
    <label>Token <input id="token" name="token" type="password" required maxlength="3000" autocomplete="off"></label>
    <button type="submit">Sign in</button>
    <p id="sign-in-error" class="bad" role="alert"></p>
  </form>
</section>
<div id="dashboard" hidden>
  <section class="wide">
    <h2>Service graph <span class="muted">last 5 minutes, all isolates</span></h2>
    <svg id="graph" role="img" aria-label="service graph" viewBox="0 0 900 360"></svg>
    <p class="legend"><span class="ok">■</span> ≥ 99 % success <span class="warn">■</span> ≥ 95 % <span class="bad">■</span> below</p>
  </section>
  <section class="wide">
    <h2>Golden metrics <select id="service" aria-label="service"></select> <span class="muted">per minute, last 60 minutes</span></h2>
    <div class="charts">
      <figure><figcaption>Success rate</figcaption><svg id="chart-success" viewBox="0 0 300 120"></svg></figure>
      <figure><figcaption>Requests per second</figcaption><svg id="chart-rps" viewBox="0 0 300 120"></svg></figure>
      <figure><figcaption>Latency <span class="ok">p50</span> / <span class="warn">p95</span> / <span class="bad">p99</span> (ms)</figcaption><svg id="chart-latency" viewBox="0 0 300 120"></svg></figure>
    </div>
  </section>
  <section class="wide">
    <h2>Route level and attempt level <span class="muted">since the metrics began</span></h2>
    <table id="services"></table>
  </section>
  <section>
    <h2>Breakers and ejections</h2>
    <table id="backends"></table>
  </section>
  <section>
    <h2>Rate limits</h2>
    <table id="ratelimits"></table>
  </section>
  <section>
    <h2>Objectives and alerts</h2>
    <div id="slos"></div>
    <div id="alerts"></div>
  </section>
  <section>
    <h2>Configuration</h2>
    <table id="versions"></table>
    <h3>Diff <span id="diff-title" class="muted"></span></h3>
    <table id="diff"></table>
  </section>
  <section class="wide">
    <h2>Audit log</h2>
    <table id="audit"></table>
  </section>
  <section class="wide">
    <h2>Recent requests <span class="muted">this isolate's only (the gateway isolate that answers this page), newest first</span></h2>
    <table id="recent"></table>
  </section>
</div>
</main>
</body>
</html>
`;

export const STYLE_CSS = `
:root { color-scheme: light dark; --ok: #1a8f3c; --warn: #c98a00; --bad: #c62828; --line: #8884; font: 14px/1.4 system-ui, sans-serif; }
body { margin: 0; }
header { display: flex; gap: 1em; align-items: baseline; padding: .5em 1em; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.2em; margin: 0; }
#sign-out { margin-left: auto; }
main { padding: 0 1em 2em; }
#dashboard:not([hidden]) { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0 1.5em; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 1.05em; margin: 1.2em 0 .4em; }
h3 { font-size: 1em; }
.muted { color: #888; font-weight: normal; font-size: .9em; }
.ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .15em .5em; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
th { font-weight: 600; white-space: nowrap; }
tr.selectable { cursor: pointer; }
td.num, th.num { text-align: right; }
code { font-size: .9em; }
#graph { width: 100%; max-height: 420px; border: 1px solid var(--line); border-radius: 4px; }
#graph .node rect { fill: Canvas; stroke: CanvasText; stroke-width: 1; }
#graph .node text { fill: CanvasText; font-size: 12px; }
#graph .edge path { fill: none; stroke-width: 2; }
#graph .edge text { font-size: 10px; fill: CanvasText; paint-order: stroke; stroke: Canvas; stroke-width: 3px; }
#graph .edge.ok path { stroke: var(--ok); } #graph .edge.warn path { stroke: var(--warn); } #graph .edge.bad path { stroke: var(--bad); }
#graph .empty { fill: #888; font-size: 14px; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; flex: 1 1 260px; }
figure svg { width: 100%; height: 130px; border: 1px solid var(--line); border-radius: 4px; }
figure .axis { fill: #888; font-size: 9px; }
figure .line { fill: none; stroke-width: 1.5; }
figure .s0 { stroke: var(--ok); } figure .s1 { stroke: var(--warn); } figure .s2 { stroke: var(--bad); }
figure .dot.s0 { fill: var(--ok); } figure .dot.s1 { fill: var(--warn); } figure .dot.s2 { fill: var(--bad); }
.legend { margin: .2em 0; font-size: .9em; }
form label { display: block; margin: .5em 0; }
form input { width: min(40em, 90%); font: inherit; }
`;

export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="4" cy="4" r="3" fill="#1a8f3c"/><circle cx="12" cy="12" r="3" fill="#1a8f3c"/><path d="M4 4L12 12" stroke="#1a8f3c" stroke-width="2"/></svg>`;
