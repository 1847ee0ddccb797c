/**
 * Names every request: keeps a well-formed incoming x-request-id (word characters, '-' and '=', at most
 * 255, as Hono's requestId middleware accepts), generates a UUID otherwise. Hono's middleware would
 * also stage the response header on a Headers object of its own, which proxied answers never use
 * (recordOutcome sets it on the final response): measured, that is an allocation per request for
 * nothing, so this is the same check without it.
 */
import type { Stage } from "../context.ts";

const WELL_FORMED = /^[\w\-=]{1,255}$/;

export const requestId: Stage = {
  request(x) {
    const incoming = x.headers.get("x-request-id");
    x.requestId = incoming !== null && WELL_FORMED.test(incoming) ? incoming : crypto.randomUUID();
    return undefined;
  },
};
