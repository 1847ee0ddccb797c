/**
 * The productpage service of the demo mesh: a Worker behind the gateway. It calls details and reviews
 * back through the gateway (the MESH service binding, with the mesh hostnames), so that routing,
 * splits, retries and faults apply to service-to-service calls too. HTML, or JSON with ?format=json.
 */

interface ProductpageEnv {
  MESH: Fetcher;
}

interface Details {
  author: string;
  year: number;
  type: string;
  pages: number;
  publisher: string;
  language: string;
  servedBy: string;
}

interface Review {
  reviewer: string;
  text: string;
  rating?: { stars: number; color: string };
}

interface Reviews {
  version: string;
  servedBy: string;
  reviews: Review[];
  ratingsError?: string;
}

/** One call through the mesh, as the page reports it: what answered, and what the gateway says it did. */
interface MeshCall<T> {
  status: number;
  attempts: number | null;
  reason: string | null;
  data: T | null;
  error?: string;
}

/** Copied onto the calls to details and reviews, as bookinfo does: one request id and one trace per
 * page load, and the canary and chaos headers reach the services further down. */
const PROPAGATED_HEADERS = ["x-request-id", "traceparent", "tracestate", "x-canary", "cookie", "x-chaos"];

const TITLE = "The Comedy of Errors";

async function callMesh<T>(env: ProductpageEnv, url: string, incoming: Headers): Promise<MeshCall<T>> {
  const headers = new Headers({ accept: "application/json" });
  for (const name of PROPAGATED_HEADERS) {
    const value = incoming.get(name);
    if (value !== null) headers.set(name, value);
  }
  try {
    const response = await env.MESH.fetch(url, { headers });
    const attempts = response.headers.get("x-edgemesh-attempts");
    const body: unknown = await response.json().catch(() => null);
    return {
      status: response.status,
      attempts: attempts === null ? null : Number(attempts),
      reason: response.headers.get("x-edgemesh-reason"),
      data: response.ok ? (body as T) : null,
      ...(!response.ok && { error: JSON.stringify(body) }),
    };
  } catch (error) {
    return { status: 0, attempts: null, reason: null, data: null, error: String(error) };
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return Response.json({ status: "ok" });
    if (url.pathname !== "/productpage") return Response.json({ error: "not found" }, { status: 404 });
    const id = /^\d+$/.test(url.searchParams.get("id") ?? "") ? url.searchParams.get("id")! : "0";
    const [details, reviews] = await Promise.all([
      callMesh<Details>(env, `http://details.mesh/details/${id}`, request.headers),
      callMesh<Reviews>(env, `http://reviews.mesh/reviews/${id}`, request.headers),
    ]);
    const page = { id: Number(id), title: TITLE, details, reviews };
    if (url.searchParams.get("format") === "json") return Response.json(page);
    return new Response(renderPage(page), { headers: { "content-type": "text/html; charset=utf-8" } });
  },
} satisfies ExportedHandler<ProductpageEnv>;

// --- HTML -----------------------------------------------------------------------------------------

const escapeHtml = (text: string | number) =>
  String(text).replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

function callSummary(service: string, call: MeshCall<{ servedBy: string }>): string {
  const attempts = call.attempts === null ? "" : `, ${call.attempts} attempt${call.attempts === 1 ? "" : "s"}`;
  const reason = call.reason ? `, ${call.reason}` : "";
  const servedBy = call.data ? ` from <b>${escapeHtml(call.data.servedBy)}</b>` : "";
  return `<li>${service}: ${call.status}${servedBy}${escapeHtml(attempts + reason)}</li>`;
}

function renderDetails(call: MeshCall<Details>): string {
  const details = call.data;
  if (!details) return `<p class="error">Details are unavailable (${escapeHtml(call.status)} ${escapeHtml(call.reason ?? "")}).</p>`;
  const rows = (["author", "year", "type", "pages", "publisher", "language"] as const)
    .map((field) => `<tr><th>${field}</th><td>${escapeHtml(details[field])}</td></tr>`)
    .join("");
  return `<table>${rows}</table>`;
}

function renderReviews(call: MeshCall<Reviews>): string {
  const reviews = call.data;
  if (!reviews) return `<p class="error">Reviews are unavailable (${escapeHtml(call.status)} ${escapeHtml(call.reason ?? "")}).</p>`;
  const items = reviews.reviews.map((review) => {
    const stars = review.rating
      ? `<div style="color:${escapeHtml(review.rating.color)}">${"★".repeat(review.rating.stars)}${"☆".repeat(5 - review.rating.stars)}</div>`
      : "";
    return `<blockquote><p>${escapeHtml(review.text)}</p><small>${escapeHtml(review.reviewer)}</small>${stars}</blockquote>`;
  });
  const ratingsError = reviews.ratingsError ? `<p class="error">Ratings are unavailable: ${escapeHtml(reviews.ratingsError)}.</p>` : "";
  return `<p>Reviews ${escapeHtml(reviews.version)}</p>${items.join("")}${ratingsError}`;
}

function renderPage(page: { title: string; details: MeshCall<Details>; reviews: MeshCall<Reviews> }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(page.title)} · edgemesh bookinfo</title>
<style>body{font-family:sans-serif;max-width:48rem;margin:2rem auto}th{text-align:left;padding-right:1rem}.error{color:#b00}</style>
</head><body>
<h1>${escapeHtml(page.title)}</h1>
<h2>Book details</h2>${renderDetails(page.details)}
<h2>Book reviews</h2>${renderReviews(page.reviews)}
<h2>Served by</h2><ul>${callSummary("details", page.details)}${callSummary("reviews", page.reviews)}</ul>
</body></html>
`;
}
