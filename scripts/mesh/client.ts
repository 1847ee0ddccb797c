/**
 * The admin API from the CLI: where it is, who calls, and errors a person can act on. The caller is
 * a mesh identity when MESH_SPIFFE_ID and MESH_CREDENTIAL are set (the credential is exchanged for
 * a workload token by the shipped client module, as any origin does), the break-glass
 * MESH_ADMIN_TOKEN otherwise. The audit log records whom the API verified; nothing is declared.
 */
import { workloadTokens, type WorkloadTokens } from "../../client/workload-tokens.ts";
import { printable } from "./print.ts";

export const ADMIN_URL = (process.env.MESH_ADMIN_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
/** The admin URL as messages show it: without a user or password it may carry. */
const SHOWN_URL = (() => {
  try {
    const url = new URL(ADMIN_URL);
    url.username = url.password = "";
    return url.toString().replace(/\/$/, "");
  } catch {
    return ADMIN_URL;
  }
})();
const TOKEN = process.env.MESH_ADMIN_TOKEN ?? "edgemesh-dev-token";
const SPIFFE_ID = process.env.MESH_SPIFFE_ID || undefined;
const CREDENTIAL = process.env.MESH_CREDENTIAL || undefined;

export class CliError extends Error {}

let tokens: WorkloadTokens | undefined;

async function credentials(): Promise<Record<string, string>> {
  if (!SPIFFE_ID && !CREDENTIAL) return { authorization: `Bearer ${TOKEN}` };
  if (!SPIFFE_ID || !CREDENTIAL) throw new CliError("set both MESH_SPIFFE_ID and MESH_CREDENTIAL to call as a mesh identity (or neither, to use MESH_ADMIN_TOKEN)");
  tokens ??= workloadTokens({ gatewayUrl: ADMIN_URL, spiffeId: SPIFFE_ID, credential: CREDENTIAL, fetchTimeoutMs: 30_000 });
  try {
    return await tokens.headers();
  } catch (error) {
    const message = (error as Error).message;
    if (message.startsWith("token exchange refused")) throw new CliError(`no workload token for ${printable(SPIFFE_ID)}: ${printable(message)}. Check MESH_SPIFFE_ID and MESH_CREDENTIAL.`);
    throw unreachable(error);
  }
}

function unreachable(error: unknown): CliError {
  const { cause } = error as { cause?: { code?: string; message?: string } };
  // Node's own message may quote the URL whole, a user:password in it too.
  const why = String(cause?.code ?? cause?.message ?? (error as Error).message).split(ADMIN_URL).join(SHOWN_URL).replace(/\/\/[^/@\s]*@/g, "//");
  return new CliError(`cannot reach the admin API at ${SHOWN_URL} (${why}). Is the mesh running (npm start)? Set MESH_ADMIN_URL to point elsewhere.`);
}

export interface Answer<T> {
  status: number;
  body: T;
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const headers = { ...(await credentials()), "content-type": "application/json" };
  let response: Response;
  try {
    // No redirects: the credential headers would follow them to wherever they point.
    response = await fetch(`${ADMIN_URL}/admin${path}`, { method, headers, redirect: "error", ...(body !== undefined && { body: JSON.stringify(body) }), signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    throw unreachable(error);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${SHOWN_URL} answered ${response.status} with something other than JSON; is MESH_ADMIN_URL the gateway?`);
  }
  const error = (parsed as ErrorBody).error;
  if (response.status === 401) {
    if (SPIFFE_ID) throw new CliError(`the admin API refused the workload token of ${printable(SPIFFE_ID)}: ${printable(error?.message)}`);
    throw new CliError("the admin API refused the token: set MESH_ADMIN_TOKEN to the gateway's ADMIN_TOKEN secret, or MESH_SPIFFE_ID and MESH_CREDENTIAL to call as a mesh identity.");
  }
  if (response.status === 403 && error?.reason === "forbidden") throw new CliError(`not allowed: ${printable(error.message)}`);
  if (response.status === 503 && error?.reason === "admin_disabled") {
    throw new CliError("the admin API is off on this gateway: set its ADMIN_TOKEN secret (wrangler secret put ADMIN_TOKEN), or deploy policies with an AdminRoleBinding.");
  }
  return { status: response.status, body: parsed as T };
}

export interface ErrorBody {
  error: { status: number; reason: string; message: string; errors?: string[]; currentVersion?: number };
}

/** Fails with the API's own message unless the status is one the caller handles. */
export function expectOk<T>(answer: Answer<T | ErrorBody>, ...handled: number[]): T {
  if (answer.status < 300 || handled.includes(answer.status)) return answer.body as T;
  const { error } = (answer.body ?? {}) as Partial<ErrorBody>;
  if (typeof error?.message !== "string") throw new CliError(`the admin API answered ${answer.status} without an error message`);
  // The API's messages quote stored and sent text (names, files): escaped like everything else printed.
  throw new CliError([printable(error.message), ...(error.errors ?? []).map((line) => `  ${printable(line)}`)].join("\n"));
}
