/** Polls until `check` is true, every `intervalMs`; throws, naming what it waited for, after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, { timeoutMs = 5_000, intervalMs = 10 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
