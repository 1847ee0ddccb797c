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
  slos                           ServiceLevelObjectives: error budget left, burn rates
  alerts                         alert state (page, ticket, thresholds)
  alerts export [--out file]     the objectives' alerts as a Prometheus rule file
  help                           this text (also --help, -h)

An apply or rollback whose documents equal the current version's changes nothing and says so.
Stored text (messages, names) is printed with control characters escaped (\\n, \\u001b).

MESH_ADMIN_URL (default http://127.0.0.1:8787) and MESH_ADMIN_TOKEN (default: npm start's token).
`;
