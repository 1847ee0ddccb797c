/** Calls and policies for the evaluator's unit tests: a call goes through authzRequestOf, as the gateway's does. */
import { AuthorizationPolicy } from "../../policies/schema/index.ts";
import { authorize, compileAuthorizer, compilePolicy, type AuthzDecision } from "../../workers/gateway/authz/evaluate.ts";
import { authzRequestOf, type AuthzRequest } from "../../workers/gateway/authz/request.ts";
import type { EndUser, Exchange, UpstreamRequest } from "../../workers/gateway/context.ts";

export interface Call {
  principal?: string;
  endUser?: EndUser;
  /** CF-Connecting-IP. */
  ip?: string;
  method?: string;
  /** The Host the upstream gets (as url.host has it: no default port). */
  host?: string;
  scheme?: "http" | "https";
  path?: string;
  headerList?: [string, string][];
  /** The upstream's headers, when a test needs to watch them. */
  headers?: Headers;
}

export function request(call: Call = {}): AuthzRequest {
  const headers = call.headers ?? new Headers();
  for (const [name, value] of call.headerList ?? []) headers.append(name, value);
  const x = {
    outcome: { source: call.principal ? { id: call.principal, via: "token" } : undefined },
    endUser: call.endUser,
    headers: new Headers(call.ip ? { "cf-connecting-ip": call.ip } : {}),
    url: new URL(`${call.scheme ?? "https"}://gateway.test/`),
  } as unknown as Exchange;
  const upstream: UpstreamRequest = { method: call.method ?? "GET", host: call.host ?? "svc.test", path: call.path ?? "/", search: "", headers, body: { kind: "none" } };
  return authzRequestOf(x, upstream);
}

export const policy = (name: string, spec: Record<string, unknown>) =>
  AuthorizationPolicy.parse({ apiVersion: "edgemesh.dev/v1alpha1", kind: "AuthorizationPolicy", metadata: { name }, spec });

export const decide = (specs: Record<string, unknown>[], r: AuthzRequest): AuthzDecision =>
  authorize(compileAuthorizer(specs.map((spec, i) => compilePolicy(policy(`p${i}`, spec))))!, r);

export const allowed = (spec: Record<string, unknown>, r: AuthzRequest) => decide([spec], r).decision === "allow";
export const denied = (spec: Record<string, unknown>, r: AuthzRequest) => decide([spec], r).decision === "deny";
