/** What admin handlers share: the gateway's env (with the admin token), this isolate's table source, stubs. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { ConfigStore } from "../../durable-objects/config-store.ts";
import type { GatewayEnv } from "../gateway/context.ts";
import type { TableSource } from "../gateway/control-plane/table-source.ts";

export interface AdminEnv extends GatewayEnv {
  /** Bearer token for the admin API: a wrangler secret (`wrangler secret put ADMIN_TOKEN`). */
  ADMIN_TOKEN?: string;
}

export type AdminHonoEnv = { Bindings: AdminEnv; Variables: { actor: string } };
export type AdminApp = OpenAPIHono<AdminHonoEnv, {}, "/admin">;

export interface AdminDeps {
  tables: TableSource;
}

/**
 * The ConfigStore's methods as declared. Its results are plain JSON data, which RPC passes as is; the
 * generated RPC types would re-derive them through the recursive Json type, too deep for the checker.
 */
type ConfigStoreApi = Pick<ConfigStore, "apply" | "rollback" | "current" | "getVersion" | "history" | "diff" | "audit" | "snapshot">;

export const configStore = (env: AdminEnv) => env.CONFIG_STORE.get(env.CONFIG_STORE.idFromName("config")) as unknown as ConfigStoreApi;

export const coordinator = (env: AdminEnv, backend: string) => env.BACKEND_COORDINATOR.get(env.BACKEND_COORDINATOR.idFromName(backend));

export const problem = (status: number, reason: string, message: string, extra: Record<string, unknown> = {}) => ({
  error: { status, reason, message, ...extra },
});
