/** The CLI's identity commands: whoami, the Issuer's signing keys, and bootstrap credentials. */
import type { SigningKeyInfo } from "../../common/protocol.ts";
import { call, CliError, expectOk } from "./client.ts";
import { printable, time } from "./print.ts";

/** What the admin API answers for each key: the Issuer's own description of it. */
type Key = SigningKeyInfo;

const VIA: Record<string, string> = { "admin-token": "the admin token (break-glass)", "workload-token": "a workload token", binding: "its service binding" };

function printKeys(keys: Key[]): void {
  for (const key of keys) {
    const until = key.publishedUntil !== null ? `  published until ${time(key.publishedUntil)}` : "";
    const retired = key.retiredAt !== null ? `  retired ${time(key.retiredAt)}` : "";
    console.log(`${printable(key.kid)}  ${key.state.padEnd(9)} ${printable(key.alg)}  published ${time(key.createdAt)}  signs from ${time(key.activatesAt)}${retired}${until}${key.pinned ? "  (pinned)" : ""}`);
  }
}

/** A SPIFFE ID argument, checked before it goes into a path (it is written there as it is). */
function spiffeIdArgument(value: string | undefined, usage: string): string {
  if (!value || !/^spiffe:\/\/[a-z0-9._-]+\/ns\/[A-Za-z0-9._-]+\/sa\/[A-Za-z0-9._-]+$/.test(value)) throw new CliError(`usage: ${usage} (a SPIFFE ID spiffe://<trust-domain>/ns/<namespace>/sa/<service>)`);
  return value;
}

export function identityCommands(args: string[], confirm: (question: string) => Promise<boolean>): Record<string, () => Promise<void>> {
  const [sub, argument] = args;
  return {
    async whoami() {
      const me = expectOk<{ identity: string; via: string; role: string | null }>(await call("GET", "/whoami"));
      console.log(`identity:    ${printable(me.identity)}`);
      console.log(`verified by: ${VIA[me.via] ?? printable(me.via)}`);
      console.log(`role:        ${me.role ?? "none (no AdminRoleBinding names this identity)"}`);
    },
    async keys() {
      if (sub === undefined || sub === "list") return printKeys(expectOk<{ keys: Key[] }>(await call("GET", "/identity/keys")).keys);
      if (sub === "rotate") {
        const { keys } = expectOk<{ keys: Key[] }>(await call("POST", "/identity/keys/rotate"));
        const next = keys.find((key) => key.state === "published");
        if (next) console.log(`Published ${printable(next.kid)}; it signs from ${time(next.activatesAt)}, when every gateway has it.`);
        return printKeys(keys);
      }
      if (sub === "revoke") {
        if (!argument || !/^[A-Za-z0-9_-]{1,128}$/.test(argument)) throw new CliError("usage: keys revoke <kid>");
        if (!(await confirm(`Revoke key ${argument}? Every token it signed is refused from now on.`))) return console.log("Nothing revoked.");
        const { keys } = expectOk<{ keys: Key[] }>(await call("POST", `/identity/keys/${argument}/revoke`));
        console.log(`Revoked ${argument}.`);
        return printKeys(keys);
      }
      throw new CliError("usage: keys [list | rotate | revoke <kid>]");
    },
    async credentials() {
      if (sub === undefined || sub === "list") {
        const { credentials } = expectOk<{ credentials: { spiffeId: string; source: string; createdAt: number | null }[] }>(await call("GET", "/identity/credentials"));
        for (const credential of credentials) {
          const origin = credential.source === "secret" ? "in MESH_WORKLOAD_CREDENTIALS" : `made ${time(credential.createdAt!)}`;
          console.log(`${printable(credential.spiffeId)}  ${origin}`);
        }
        return;
      }
      if (sub === "create") {
        const spiffeId = spiffeIdArgument(argument, "credentials create <spiffe-id>");
        const made = expectOk<{ spiffeId: string; credential: string }>(await call("POST", "/identity/credentials", { spiffeId }));
        // The secret alone on stdout, so a script can take it; the explanation on stderr.
        console.log(made.credential);
        console.error(`The credential of ${printable(made.spiffeId)}: shown this once (the mesh keeps only its SHA-256). Give it to the service as MESH_CREDENTIAL.`);
        return;
      }
      if (sub === "delete") {
        const spiffeId = spiffeIdArgument(argument, "credentials delete <spiffe-id>");
        if (!(await confirm(`Delete the credential of ${spiffeId}? Its next token exchange is refused.`))) return console.log("Nothing deleted.");
        expectOk(await call("DELETE", `/identity/credentials/${spiffeId}`));
        console.log(`Deleted the credential of ${spiffeId}; tokens it already got stay valid until they expire (minutes).`);
        return;
      }
      throw new CliError("usage: credentials [list | create <spiffe-id> | delete <spiffe-id>]");
    },
  };
}
