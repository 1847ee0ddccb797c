/**
 * The details service of the demo mesh: a plain HTTP origin run as several endpoints on loopback,
 * one of which fails a share of its requests with 503 so that the gateway's retries have work to do.
 * It answers only calls that came through the mesh (a valid `edgemesh-caller-token` addressed to
 * details), and says who called in `caller` (and the mesh's key that vouched for it, `callerKid`); anything else is 401. /health stays open.
 */
import type { Server } from "node:http";
import type { MeshVerifier } from "../../client/mesh-identity.ts";
import { listen, sendJson } from "./http.ts";
import { meshCaller } from "./identity.ts";

export interface DetailsEndpoint {
  name: string;
  port: number;
  zone: string;
  /** Share of requests answered 503, from 0 to 1. */
  failureRate: number;
}

export interface DetailsOptions extends DetailsEndpoint {
  /** Checks the mesh's caller token (audience: details). */
  mesh: MeshVerifier;
}

const BOOK = {
  author: "William Shakespeare",
  year: 1595,
  type: "paperback",
  pages: 200,
  publisher: "PublisherA",
  language: "English",
  "ISBN-10": "1234567890",
  "ISBN-13": "123-1234567890",
};

export function startDetails({ name, port, zone, failureRate, mesh }: DetailsOptions): Promise<Server> {
  const servedBy = `${name} 127.0.0.1:${port}`;
  return listen(name, port, async (request, response) => {
    const headers = { "x-served-by": servedBy };
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname === "/health") return sendJson(response, 200, { status: "ok", servedBy }, headers);
    const caller = await meshCaller(mesh, request, response, headers);
    if (caller === undefined) return;
    const id = /^\/details\/(\d+)$/.exec(url.pathname)?.[1];
    if (request.method !== "GET" || id === undefined) return sendJson(response, 404, { error: "not found" }, headers);
    if (Math.random() < failureRate) {
      return sendJson(response, 503, { error: `${name} failed on purpose (${failureRate * 100}% of requests)`, servedBy }, headers);
    }
    sendJson(response, 200, { id: Number(id), ...BOOK, servedBy, zone, caller: caller.id, callerKid: caller.kid }, headers);
  });
}
