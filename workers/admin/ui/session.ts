/**
 * The dashboard's sign-in: the credential (the admin token, or whatever the admin API accepts) is
 * posted once in a JSON body, checked by the admin API's own check, and kept in a cookie the page's
 * scripts cannot read (HttpOnly), sent only to /admin on this host (SameSite=Strict, Path=/admin,
 * Secure over https), for SESSION_SECONDS. It is never in a URL, in storage or in the page. Each
 * request with the cookie is checked again as if its Authorization header had carried it, so a
 * rotated token ends every session at once.
 *
 * The admin API's auth hook is credentialFromCookie + csrfRefusal: a cookie-authenticated request
 * that changes anything must carry UI_HEADER, which a cross-site form cannot send and a cross-site
 * fetch cannot send without a CORS preflight the admin API never grants.
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { z } from "@hono/zod-openapi";
import { problem, type AdminApp, type AdminEnv } from "../context.ts";

export const SESSION_COOKIE = "edgemesh_session";
export const UI_HEADER = "x-edgemesh-ui";
export const SESSION_SECONDS = 8 * 60 * 60;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** A workload token is a JWT of a few hundred bytes; a cookie holds about 4 KiB. */
const MAX_CREDENTIAL = 3_000;

/** Checks a credential exactly as the admin API checks a bearer token. */
export type VerifyCredential = (env: AdminEnv, credential: string) => Promise<boolean>;

/** The credential a session cookie carries, for a request that brings no Authorization header of its own. */
export function credentialFromCookie(c: Context): string | undefined {
  if (c.req.header("authorization") !== undefined) return undefined;
  return getCookie(c, SESSION_COOKIE) || undefined;
}

/** 403 for a change made with the cookie but without the dashboard's header (cross-site request forgery). */
export function csrfRefusal(c: Context): Response | undefined {
  if (SAFE_METHODS.has(c.req.method) || c.req.header(UI_HEADER) === "1") return undefined;
  return c.json(problem(403, "csrf_header_missing", `a change made with the dashboard's session cookie needs the header ${UI_HEADER}: 1`), 403);
}

/** The sign-in endpoints check their own input, so the admin API's auth lets them through. */
export const isSessionPath = (path: string) => path === "/admin/ui/session";

const SignIn = z.object({ token: z.string().min(1).max(MAX_CREDENTIAL) }).strict();

export function sessionRoutes(app: AdminApp, verify: VerifyCredential): void {
  // Whether this browser is signed in: 200 either way, so a signed-out page logs no failed request.
  app.get("/ui/session", async (c) => {
    const credential = credentialFromCookie(c);
    c.header("cache-control", "no-store");
    return c.json({ signedIn: credential !== undefined && (await verify(c.env, credential)) }, 200);
  });

  app.post("/ui/session", async (c) => {
    const refused = csrfRefusal(c);
    if (refused) return refused;
    if (!c.req.header("content-type")?.startsWith("application/json")) return c.json(problem(415, "unsupported_media_type", "sign in with a JSON body: {\"token\": \"...\"}"), 415);
    const parsed = SignIn.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json(problem(400, "invalid_request", `the body must be {"token": "<1 to ${MAX_CREDENTIAL} characters>"}`), 400);
    if (!(await verify(c.env, parsed.data.token))) return c.json(problem(401, "unauthorized", "that token is not accepted by the admin API"), 401);
    setCookie(c, SESSION_COOKIE, parsed.data.token, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/admin",
      secure: new URL(c.req.url).protocol === "https:",
      maxAge: SESSION_SECONDS,
    });
    c.header("cache-control", "no-store");
    return c.json({ signedIn: true }, 200);
  });

  app.delete("/ui/session", (c) => {
    const refused = csrfRefusal(c);
    if (refused) return refused;
    deleteCookie(c, SESSION_COOKIE, { path: "/admin", secure: new URL(c.req.url).protocol === "https:" });
    return c.body(null, 204);
  });
}
