/**
 * A command line tool whose reader goes away (`npm run mesh -- audit | head`) ends quietly, as Unix
 * tools do on SIGPIPE, instead of with Node's unhandled EPIPE error and stack. Its status is theirs,
 * 141 (128 + SIGPIPE), not 0: it did not finish, which `set -o pipefail` should see (a validate
 * that was cut short has not said the files are valid). Any other error writing output stays an error.
 */
const SIGPIPE_STATUS = 141;

export function exitQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(SIGPIPE_STATUS);
      throw error;
    });
  }
}
