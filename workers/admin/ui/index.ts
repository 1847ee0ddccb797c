/**
 * /admin/ui, the mesh dashboard: one HTML page, a stylesheet and two ES modules, served as they are
 * (no build step). They hold no data and no secret, so they are served without authentication; the
 * data comes from the admin API, with the session cookie (session.ts). A strict Content-Security-Policy
 * allows nothing but this origin's own files: no inline script or style, no other origin, no framing.
 */
import type { AdminApp } from "../context.ts";
import { APP_JS } from "./app-js.ts";
import { GRAPH_JS } from "./graph-js.ts";
import { ICON_SVG, PAGE_HTML, STYLE_CSS } from "./page.ts";
import { VIEWS_JS } from "./views-js.ts";

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const ASSETS: Record<string, { body: string; type: string }> = {
  "/admin/ui": { body: PAGE_HTML, type: "text/html; charset=utf-8" },
  "/admin/ui/app.css": { body: STYLE_CSS, type: "text/css; charset=utf-8" },
  "/admin/ui/app.js": { body: APP_JS, type: "text/javascript; charset=utf-8" },
  "/admin/ui/graph.js": { body: GRAPH_JS, type: "text/javascript; charset=utf-8" },
  "/admin/ui/views.js": { body: VIEWS_JS, type: "text/javascript; charset=utf-8" },
  "/admin/ui/icon.svg": { body: ICON_SVG, type: "image/svg+xml" },
};

export const isUiAssetPath = (path: string) => Object.hasOwn(ASSETS, path);

export function uiRoutes(app: AdminApp): void {
  for (const [path, { body, type }] of Object.entries(ASSETS)) {
    app.get(path.slice("/admin".length), (c) =>
      c.body(body, 200, {
        "content-type": type,
        "content-security-policy": CONTENT_SECURITY_POLICY,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-cache",
      }),
    );
  }
}
