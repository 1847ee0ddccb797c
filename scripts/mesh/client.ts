/** The admin API from the CLI: where it is, the token, and errors a person can act on. */
import { printable } from "./print.ts";

export const ADMIN_URL = (process.env.MESH_ADMIN_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
const TOKEN = process.env.MESH_ADMIN_TOKEN ?? "edgemesh-dev-token";
const ACTOR = process.env.MESH_ACTOR ?? process.env.USER ?? "cli";

export class CliError extends Error {}

export interface Answer<T> {
  status: number;
  body: T;
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
  let response: Response;
  try {
    response = await fetch(`${ADMIN_URL}/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", "x-edgemesh-actor": ACTOR },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const { cause } = error as { cause?: { code?: string; message?: string } };
    const why = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new CliError(`cannot reach the admin API at ${ADMIN_URL} (${why}). Is the mesh running (npm start)? Set MESH_ADMIN_URL to point elsewhere.`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${ADMIN_URL} answered ${response.status} with something other than JSON; is MESH_ADMIN_URL the gateway?`);
  }
  if (response.status === 401) throw new CliError("the admin API refused the token: set MESH_ADMIN_TOKEN to the gateway's ADMIN_TOKEN secret.");
  if (response.status === 503 && (parsed as ErrorBody).error?.reason === "admin_disabled") {
    throw new CliError("the admin API is off on this gateway: set its ADMIN_TOKEN secret (wrangler secret put ADMIN_TOKEN).");
  }
  return { status: response.status, body: parsed as T };
}

export interface ErrorBody {
  error: { status: number; reason: string; message: string; errors?: string[]; currentVersion?: number };
}

/** Fails with the API's own message unless the status is one the caller handles. */
export function expectOk<T>(answer: Answer<T | ErrorBody>, ...handled: number[]): T {
  if (answer.status < 300 || handled.includes(answer.status)) return answer.body as T;
  const { error } = answer.body as ErrorBody;
  // The API's messages quote stored and sent text (names, files): escaped like everything else printed.
  throw new CliError([printable(error.message), ...(error.errors ?? []).map((line) => `  ${printable(line)}`)].join("\n"));
}
