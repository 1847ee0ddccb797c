/**
 * The reviews service of the demo mesh, in bookinfo's three versions, each a plain HTTP origin:
 * v1 shows no stars, v2 black stars, v3 red stars. v2 and v3 fetch the stars from ratings through
 * the gateway, with Host ratings.mesh; node:http, because fetch() may not set a Host header.
 * Identity: each answers only calls through the mesh (`edgemesh-caller-token` addressed to its
 * Backend, reviews-v1/-v2/-v3), and v2 and v3 present a workload token of their own to the mesh
 * (the client module's workloadTokens, from the bootstrap credential `npm start` gave them).
 */
import { request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { MeshVerifier } from "../../client/mesh-identity.ts";
import type { WorkloadTokens } from "../../client/workload-tokens.ts";
import { listen, propagatedHeaders, sendJson } from "./http.ts";
import { meshCaller } from "./identity.ts";
import { clientSpan, endHttpSpan } from "./telemetry.ts";

export type ReviewsVersion = "v1" | "v2" | "v3";

export interface ReviewsEndpoint {
  version: ReviewsVersion;
  port: number;
  /** Where the gateway listens, for the calls to ratings. */
  gatewayPort: number;
  /** Checks the mesh's caller token (audience: this version's Backend). */
  mesh: MeshVerifier;
  /** This origin's own identity toward the mesh (v2, v3: the calls to ratings). */
  tokens?: WorkloadTokens;
}

const STAR_COLOR: Record<ReviewsVersion, string | undefined> = { v1: undefined, v2: "black", v3: "red" };

const REVIEWS = [
  { reviewer: "Reviewer1", text: "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!" },
  { reviewer: "Reviewer2", text: "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare." },
];

/** Longer than the ratings routes' own timeouts, so that the gateway's 504 is what reviews sees. */
const RATINGS_TIMEOUT_MS = 5_000;

export function startReviews({ version, port, gatewayPort, mesh, tokens }: ReviewsEndpoint): Promise<Server> {
  const servedBy = `reviews-${version} 127.0.0.1:${port}`;
  const color = STAR_COLOR[version];
  return listen(`reviews-${version}`, port, async (request, response) => {
    const headers = { "x-served-by": servedBy };
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname === "/health") return sendJson(response, 200, { status: "ok", servedBy }, headers);
    const caller = await meshCaller(mesh, request, response, headers);
    if (caller === undefined) return;
    const id = /^\/reviews\/(\d+)$/.exec(url.pathname)?.[1];
    if (request.method !== "GET" || id === undefined) return sendJson(response, 404, { error: "not found" }, headers);

    let ratingsError: string | undefined;
    let stars: Record<string, number> = {};
    if (color) {
      const ratings = await getRatings(gatewayPort, id, request, tokens);
      if (ratings.ok) stars = ratings.stars;
      else ratingsError = ratings.error;
    }
    const reviews = REVIEWS.map((review) => {
      const count = stars[review.reviewer];
      return color && count !== undefined ? { ...review, rating: { stars: count, color } } : review;
    });
    sendJson(response, 200, { id: Number(id), version, servedBy, caller: caller.id, reviews, ...(ratingsError && { ratingsError }) }, headers);
  });
}

type Ratings = { ok: true; stars: Record<string, number> } | { ok: false; error: string };

/** GET http://ratings.mesh/ratings/:id through the gateway, as this origin's identity; never throws: reviews degrade to no stars. */
async function getRatings(gatewayPort: number, id: string, incoming: IncomingMessage, tokens: WorkloadTokens | undefined): Promise<Ratings> {
  let identity: Record<string, string> = {};
  try {
    identity = tokens ? await tokens.headers() : {};
  } catch (error) {
    return { ok: false, error: `no workload token: ${(error as Error).message}` };
  }
  // A client span of its own (with tracing on), the parent of the gateway's server span for the call.
  const { span, headers } = clientSpan(incoming, "GET", { ...propagatedHeaders(incoming), ...identity, host: "ratings.mesh", accept: "application/json" }, {
    "http.request.method": "GET",
    "server.address": "127.0.0.1",
    "server.port": gatewayPort,
    "url.full": `http://ratings.mesh/ratings/${id}`,
  });
  return new Promise<Ratings>((resolve) => {
    const call = httpRequest(
      {
        host: "127.0.0.1",
        port: gatewayPort,
        path: `/ratings/${id}`,
        headers,
        timeout: RATINGS_TIMEOUT_MS,
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("error", (error) => resolve({ ok: false, error: `ratings answer cut short: ${error.message}` }));
        response.on("data", (chunk: string) => (text += chunk));
        response.on("end", () => {
          endHttpSpan(span, response.statusCode);
          const reason = response.headers["x-edgemesh-reason"];
          if (response.statusCode !== 200) {
            return resolve({ ok: false, error: `ratings answered ${response.statusCode}${reason ? ` (${reason})` : ""}` });
          }
          try {
            resolve({ ok: true, stars: (JSON.parse(text) as { ratings: Record<string, number> }).ratings });
          } catch {
            resolve({ ok: false, error: "ratings answered with invalid JSON" });
          }
        });
      },
    );
    call.on("timeout", () => call.destroy(new Error(`no answer within ${RATINGS_TIMEOUT_MS} ms`)));
    call.on("error", (error) => {
      endHttpSpan(span, undefined, false, error.message);
      resolve({ ok: false, error: `ratings unreachable: ${error.message}` });
    });
    call.end();
  });
}
