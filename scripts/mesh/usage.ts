/** What `npm run mesh -- help` prints. */
export const USAGE = `usage: npm run mesh -- <command> [options]

  status                         versions served and stored
  apply [files…] [--dry-run] [--yes] [-m msg] [--allow-empty]
                                 validate policy files (default: policies/*.yaml), preview the
                                 diff, then make them the next version; files that hold no
                                 documents (which would remove everything) need --allow-empty
  diff [<from> <to>]             what changed between two versions (no arguments: files vs current)
  history [--limit N]            versions, newest first
  rollback <version> [--yes] [-m msg] [--allow-empty]
                                 make an earlier version's documents the next version
  audit [--limit N]              the audit log, newest first
  backends [name]                endpoints, health and registry
  whoami                         the identity the admin API verified, how, and its role
  keys [list]                    the issuer's signing keys: kid, state, times
  keys rotate                    publish the next signing key now
  keys revoke <kid> [--yes]      drop a key at once: its tokens are refused
  credentials [list]             which workloads have bootstrap credentials
  credentials create <spiffe-id> make one; prints the secret once, on stdout
  credentials delete <spiffe-id> [--yes]
                                 revoke one: its next token exchange is refused
  slos                           ServiceLevelObjectives: error budget left, burn rates
  alerts                         alert state (page, ticket, thresholds)
  alerts export [--out file]     the objectives' alerts as a Prometheus rule file
  help                           this text (also --help, -h)

An apply or rollback whose documents equal the current version's changes nothing and says so.
Stored text (messages, names) is printed with control characters escaped (\\n, \\u001b).
Options come before --; what follows it is taken as it is, so a value that starts with "-" (a kid
can: it is base64url) goes there: keys revoke --yes -- -Abc123.

MESH_ADMIN_URL (default http://127.0.0.1:8787). Who calls: a mesh identity when MESH_SPIFFE_ID and
MESH_CREDENTIAL are set (its role comes from AdminRoleBindings), else the break-glass
MESH_ADMIN_TOKEN (default: npm start's token). The audit log records the verified caller.
`;
