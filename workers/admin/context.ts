/** What admin handlers share: the gateway's env (with the admin token), this isolate's table source, stubs. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { configStoreOf } from "../../durable-objects/config-store.ts";
import type { GatewayEnv } from "../gateway/context.ts";
import type { TableSource } from "../gateway/control-plane/table-source.ts";

export interface AdminEnv extends GatewayEnv {
  /** Bearer token for the admin API: a wrangler secret (`wrangler secret put ADMIN_TOKEN`). */
  ADMIN_TOKEN?: string;
  /** When set, the admin API answers only on this host; /admin on any other host goes to the mesh. */
  ADMIN_HOST?: string;
}

export type AdminHonoEnv = { Bindings: AdminEnv; Variables: { actor: string } };
export type AdminApp = OpenAPIHono<AdminHonoEnv, {}, "/admin">;

export interface AdminDeps {
  tables: TableSource;
}

export const configStore = (env: AdminEnv) => configStoreOf(env.CONFIG_STORE);

export const coordinator = (env: AdminEnv, backend: string) => env.BACKEND_COORDINATOR.get(env.BACKEND_COORDINATOR.idFromName(backend));

export const problem = (status: number, reason: string, message: string, extra: Record<string, unknown> = {}) => ({
  error: { status, reason, message, ...extra },
});
