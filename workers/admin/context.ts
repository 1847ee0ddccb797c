/** What admin handlers share: the gateway's env (with the admin token), this isolate's table source, stubs. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { configStoreOf, coordinatorOf, issuerOf, rateLimiterOf, type Namespace } from "../../common/protocol.ts";
import type { TableSource } from "../gateway/control-plane/table-source.ts";
import type { GatewayEnv } from "../gateway/env.ts";
import type { IsolateState } from "../gateway/isolate-state.ts";
import type { AdminCaller } from "./auth.ts";

export type AdminEnv = GatewayEnv;

/** `caller`: who is calling, verified (auth.ts); `actor`: its id, what the audit log records. */
export type AdminHonoEnv = { Bindings: AdminEnv; Variables: { actor: string; caller: AdminCaller } };
export type AdminApp = OpenAPIHono<AdminHonoEnv, {}, "/admin">;

export interface AdminDeps {
  tables: TableSource;
  isolate: IsolateState;
}

/** An admin failure with its own reason code (the status alone does not say enough). */
export class AdminError extends HTTPException {
  constructor(
    status: 503,
    readonly reason: string,
    message: string,
  ) {
    super(status, { message });
  }
}

/** The admin API is the control plane's face: without its bindings it cannot answer. */
function bound(namespace: Namespace | undefined, binding: string): Namespace {
  if (!namespace) throw new AdminError(503, "no_control_plane", `this deployment has no ${binding} binding: the admin API needs the control plane`);
  return namespace;
}

export const configStore = (env: AdminEnv) => configStoreOf(bound(env.CONFIG_STORE, "CONFIG_STORE"));
export const coordinator = (env: AdminEnv, backend: string) => coordinatorOf(bound(env.BACKEND_COORDINATOR, "BACKEND_COORDINATOR"), backend);
export const issuer = (env: AdminEnv) => issuerOf(bound(env.ISSUER, "ISSUER"));
export const rateLimiter = (env: AdminEnv, name: string) => rateLimiterOf(bound(env.RATE_LIMITER, "RATE_LIMITER"), name);

export const problem = (status: number, reason: string, message: string, extra: Record<string, unknown> = {}) => ({
  error: { status, reason, message, ...extra },
});
