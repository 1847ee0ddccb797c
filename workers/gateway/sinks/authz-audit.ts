/**
 * The outcome sink that audits authorization denials and dry-run "would deny"s: each goes to the
 * isolate's AuthzAuditLog (rate-limited per policy), and batches go to the ConfigStore's audit log
 * after the response (`waitUntil`), at most once per FLUSH_INTERVAL_MS; while suppressed denials are
 * waiting for their policy's bucket, the flush waits for them a little (at most MAX_LINGER_MS), or
 * leaves them to ride on the policy's next entry. Without a CONFIG_STORE binding nothing is recorded.
 * A failed call loses its batch (logged), never the request.
 */
import { configStoreOf, type AuthzAuditEntry, type Namespace } from "../../../common/protocol.ts";
import { sleep } from "../attempt/sleep.ts";
import { DEFAULT_AUDIT_PER_MINUTE, type AuthzAuditLog } from "../authz/audit-log.ts";
import type { OutcomeSink } from "../outcome.ts";
import { withTimeout } from "../../../common/with-timeout.ts";

const FLUSH_INTERVAL_MS = 1_000;
const MAX_LINGER_MS = 10_000;
const CALL_TIMEOUT_MS = 5_000;

export const auditDenials =
  (log: AuthzAuditLog): OutcomeSink =>
  (outcome, env) => {
    const authz = outcome.authz;
    if (authz?.decision !== "deny" || !env.CONFIG_STORE) return;
    const perMinute = Number(env.AUTHZ_AUDIT_PER_MINUTE) > 0 ? Number(env.AUTHZ_AUDIT_PER_MINUTE) : DEFAULT_AUDIT_PER_MINUTE;
    const now = Date.now();
    const source = outcome.source;
    log.record({
      at: outcome.startedAt,
      action: authz.dryRun ? "authz.dry-run" : "authz.deny",
      actor: source && "id" in source ? source.id : "anonymous",
      policy: authz.policy ?? "",
      policyAction: authz.action ?? "ALLOW",
      route: outcome.route,
      backend: outcome.backend,
      method: outcome.method,
      path: outcome.path,
      requestId: outcome.requestId,
      suppressed: 0,
    }, now, perMinute);
    if (log.flushScheduled) return;
    log.flushScheduled = true;
    return flush(log, env.CONFIG_STORE, perMinute, Math.max(0, log.lastFlushAt + FLUSH_INTERVAL_MS - now));
  };

async function flush(log: AuthzAuditLog, namespace: Namespace, perMinute: number, wait: number): Promise<void> {
  const started = Date.now();
  try {
    for (;;) {
      if (wait > 0) await sleep(wait);
      const now = Date.now();
      log.lastFlushAt = now;
      const batch = log.drain(now, perMinute);
      if (batch.length) await send(namespace, batch);
      const pending = log.nextPending(Date.now(), perMinute);
      if (pending === undefined || Date.now() + pending - started > MAX_LINGER_MS) return;
      wait = Math.max(pending, FLUSH_INTERVAL_MS);
    }
  } finally {
    log.flushScheduled = false;
  }
}

async function send(namespace: Namespace, batch: AuthzAuditEntry[]): Promise<void> {
  try {
    await withTimeout(configStoreOf(namespace).recordAuthzAudit(batch), CALL_TIMEOUT_MS);
  } catch (error) {
    console.error(JSON.stringify({ level: "warn", message: "authorization audit entries not recorded", entries: batch.length, error: String(error) }));
  }
}
