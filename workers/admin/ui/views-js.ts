/**
 * views.js: the dashboard's DOM helpers. Every value from the API is hostile (route names, paths,
 * SPIFFE IDs, header-derived text), so text only ever goes in as a text node: no innerHTML anywhere.
 */
export const VIEWS_JS = String.raw`
const SVG = "http://www.w3.org/2000/svg";

/** An element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  node.append(...children.filter((child) => child !== undefined && child !== null).map((child) => (typeof child === "object" ? child : String(child))));
  return node;
}

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  for (const child of children) if (child !== undefined && child !== null) node.append(typeof child === "object" ? child : String(child));
  return node;
}

/** Fills a table: header cells, then one row per entry (a cell is a string, a number or a node). */
export function fillTable(table, headers, rows, { empty = "none", onRow } = {}) {
  const head = el("tr", {}, ...headers.map((header) => el("th", { class: header.num ? "num" : undefined }, header.label ?? header)));
  const body = rows.length
    ? rows.map((row, i) => {
        const tr = el("tr", {}, ...row.map((cell, j) => el("td", { class: headers[j]?.num ? "num" : undefined }, cell)));
        if (onRow) {
          tr.className = "selectable";
          tr.addEventListener("click", () => onRow(i));
        }
        return tr;
      })
    : [el("tr", {}, el("td", { colspan: headers.length, class: "muted" }, empty))];
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...body));
}

export const percent = (ratio) => (ratio === null || ratio === undefined || Number.isNaN(ratio) ? "–" : (ratio * 100).toFixed(ratio >= 0.9995 || ratio === 0 ? 0 : 1) + " %");
export const ms = (seconds) => (seconds === null || seconds === undefined ? "–" : seconds * 1000 < 10 ? (seconds * 1000).toFixed(1) + " ms" : Math.round(seconds * 1000) + " ms");
export const rate = (perSecond) => (perSecond >= 10 ? perSecond.toFixed(0) : perSecond >= 1 ? perSecond.toFixed(1) : perSecond.toFixed(2)) + " rps";
export const time = (epochMs) => (epochMs ? new Date(epochMs).toLocaleTimeString() : "–");
export const dateTime = (epochMs) => (epochMs ? new Date(epochMs).toLocaleString() : "–");
export const health = (ratio) => (ratio === null || ratio === undefined ? "" : ratio >= 0.99 ? "ok" : ratio >= 0.95 ? "warn" : "bad");
export const code = (text) => el("code", {}, text);

/** "spiffe://td/ns/shop/sa/cart" → "shop/cart", "default" namespace left out. */
export function shortId(id) {
  const match = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/(.+)$/.exec(id);
  if (!match) return id === "unknown" ? "unknown (anonymous)" : id;
  return match[1] === "default" ? match[2] : match[1] + "/" + match[2];
}

/**
 * A line chart of one or more series over the same x (minutes): lines s0, s1, s2, the max on the
 * y axis, the first and last time on the x axis. A null value breaks the line.
 */
export function lineChart(target, xs, series, { format = String, max } = {}) {
  const width = 300, height = 120, left = 34, bottom = 14, top = 6;
  const values = series.flat().filter((value) => value !== null && Number.isFinite(value));
  const top_ = max ?? Math.max(0, ...values);
  const yMax = top_ > 0 ? top_ : 1;
  const x = (i) => left + (xs.length > 1 ? (i / (xs.length - 1)) * (width - left - 4) : 0);
  const y = (value) => top + (1 - value / yMax) * (height - top - bottom);
  const nodes = [
    svg("text", { class: "axis", x: 2, y: top + 8 }, format(yMax)),
    svg("text", { class: "axis", x: 2, y: height - bottom }, format(0)),
    svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: "#8884" }),
    svg("text", { class: "axis", x: left, y: height - 2 }, time(xs[0])),
    svg("text", { class: "axis", x: width - 48, y: height - 2 }, time(xs[xs.length - 1])),
  ];
  series.forEach((points, s) => {
    let d = "";
    let pen = false;
    points.forEach((value, i) => {
      if (value === null || !Number.isFinite(value)) return void (pen = false);
      d += (pen ? "L" : "M") + x(i).toFixed(1) + " " + y(value).toFixed(1) + " ";
      pen = true;
    });
    if (d) nodes.push(svg("path", { class: "line s" + s, d }));
    // A point with no neighbour draws no line: a dot then.
    points.forEach((value, i) => {
      const alone = (j) => j < 0 || j >= points.length || points[j] === null || !Number.isFinite(points[j]);
      if (value !== null && Number.isFinite(value) && alone(i - 1) && alone(i + 1)) nodes.push(svg("circle", { class: "dot s" + s, cx: x(i).toFixed(1), cy: y(value).toFixed(1), r: 2 }));
    });
  });
  target.replaceChildren(...nodes);
}
`;
