/**
 * `npm start` in miniature for the supervision tests: the same launcher (scripts/launcher/) running a
 * stand-in for wrangler that starts a stand-in for workerd. The "workerd" holds the port and ignores
 * SIGTERM, the worst case: only the watchdog's SIGKILL frees the port.
 *
 *   tsx test/launcher/fixture.ts <port>
 */
import { createLauncher } from "../../scripts/launcher/index.ts";

const port = process.argv[2]!;
const WORKERD = `process.on("SIGTERM", () => {});
require("node:http").createServer((_, res) => res.end("ok")).listen(Number(process.argv[1]), "127.0.0.1");`;
const WRANGLER = `require("node:child_process").spawn(process.execPath, ["-e", ${JSON.stringify(WORKERD)}, process.argv[1]], { stdio: "inherit" });
process.on("SIGTERM", () => process.exit(0));
setInterval(() => {}, 60_000);`;

const launcher = createLauncher("fixture");
const group = launcher.spawn("server", process.execPath, ["-e", WRANGLER, port], { graceMs: 1_000 });
launcher.onStop(() => console.error("[fixture] stopped"));
console.log(JSON.stringify({ launcher: process.pid, pgid: group.pgid }));
