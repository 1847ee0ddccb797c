/**
 * graph.js: the service graph (/admin/graph) as an SVG picture. Nodes in columns by how far they are
 * from a caller that nobody calls (so traffic flows left to right), edges coloured by success rate
 * and labelled with rate, p99 and success. Built with createElementNS and text nodes only.
 */
export const GRAPH_JS = String.raw`
import { health, ms, percent, rate, shortId, svg } from "./views.js";

const WIDTH = 900, NODE_W = 170, NODE_H = 30, MARGIN = 20;
/** A long name is cut to fit its box; the full one is in the node's title. */
const fit = (text, length) => (text.length > length ? text.slice(0, length - 1) + "…" : text);

/** Column per node: the longest path to it from a node without callers (cycles stop at n steps). */
function columns(nodes, edges) {
  const column = new Map(nodes.map((node) => [node.id, 0]));
  for (let pass = 0; pass < nodes.length; pass++) {
    let moved = false;
    for (const edge of edges) {
      if (edge.source === edge.destination) continue;
      const next = column.get(edge.source) + 1;
      if (next > column.get(edge.destination) && next < nodes.length) {
        column.set(edge.destination, next);
        moved = true;
      }
    }
    if (!moved) break;
  }
  return column;
}

export function drawGraph(target, graph) {
  const nodes = graph.nodes;
  if (!nodes.length) {
    target.setAttribute("viewBox", "0 0 " + WIDTH + " 80");
    target.replaceChildren(svg("text", { class: "empty", x: MARGIN, y: 45 }, "No traffic in the window yet."));
    return;
  }
  const column = columns(nodes, graph.edges);
  const byColumn = new Map();
  for (const node of nodes) {
    const c = column.get(node.id);
    if (!byColumn.has(c)) byColumn.set(c, []);
    byColumn.get(c).push(node);
  }
  const lastColumn = Math.max(...byColumn.keys());
  const tallest = Math.max(...[...byColumn.values()].map((list) => list.length));
  const height = Math.max(160, tallest * (NODE_H + 50) + 2 * MARGIN);
  const position = new Map();
  for (const [c, list] of byColumn) {
    const x = lastColumn ? MARGIN + (c / lastColumn) * (WIDTH - 2 * MARGIN - NODE_W) : (WIDTH - NODE_W) / 2;
    list.forEach((node, i) => position.set(node.id, { x, y: ((i + 1) / (list.length + 1)) * height - NODE_H / 2 }));
  }
  const defs = svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, svg("path", { d: "M0 0L10 5L0 10z", fill: "#888" })));
  const edgeNodes = graph.edges.map((edge) => {
    const from = position.get(edge.source), to = position.get(edge.destination);
    const x1 = from.x + NODE_W, y1 = from.y + NODE_H / 2;
    const forward = to.x > from.x;
    const x2 = forward ? to.x : to.x + NODE_W, y2 = to.y + NODE_H / 2;
    const bend = forward ? (x2 - x1) / 2 : 80;
    const d = "M" + x1 + " " + y1 + " C" + (x1 + bend) + " " + y1 + " " + (x2 + (forward ? -bend : bend)) + " " + y2 + " " + x2 + " " + y2;
    const label = rate(edge.requestsPerSecond) + " · p99 " + ms(edge.latencySeconds.p99) + " · " + percent(edge.successRate);
    return svg(
      "g",
      { class: "edge " + health(edge.successRate), "data-source": edge.source, "data-destination": edge.destination },
      svg("title", {}, shortId(edge.source) + " → " + edge.service + ": " + edge.requests + " requests, " + label),
      svg("path", { d, "marker-end": "url(#arrow)" }),
      svg("text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4, "text-anchor": "middle" }, label),
    );
  });
  const nodeNodes = nodes.map((node) => {
    const { x, y } = position.get(node.id);
    return svg(
      "g",
      { class: "node", "data-node": node.id },
      svg("title", {}, node.id),
      svg("rect", { x, y, width: NODE_W, height: NODE_H, rx: 6 }),
      svg("text", { x: x + NODE_W / 2, y: y + NODE_H / 2 + 4, "text-anchor": "middle" }, fit(shortId(node.id), 24)),
    );
  });
  const others = graph.others ? [svg("text", { class: "empty", x: MARGIN, y: height - 6 }, "and " + graph.others.edges + " quieter edges (" + graph.others.requests + " requests)")] : [];
  target.setAttribute("viewBox", "0 0 " + WIDTH + " " + height);
  target.replaceChildren(defs, ...edgeNodes, ...nodeNodes, ...others);
}
`;
