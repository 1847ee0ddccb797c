/** A BackendCoordinator's registered endpoints, one SQLite row each, with their TTL and expiry. */
import type { RegisteredEndpoint } from "../common/protocol.ts";

type Row = {
  url: string;
  weight: number;
  zone: string | null;
  version: string | null;
  draining: number;
  expires_at: number;
};

export class EndpointRows {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS endpoints (url TEXT PRIMARY KEY, weight INTEGER NOT NULL, zone TEXT,
      version TEXT, draining INTEGER NOT NULL, ttl_ms INTEGER NOT NULL, expires_at INTEGER NOT NULL)`);
  }

  /** Every stored endpoint, by URL, with its expiry (an expired one stays until the alarm deletes it). */
  list(): (RegisteredEndpoint & { expiresAt: number })[] {
    return this.sql
      .exec<Row>("SELECT * FROM endpoints ORDER BY url")
      .toArray()
      .map((row) => ({ ...toEndpoint(row), expiresAt: row.expires_at }));
  }

  /** Whether `url` is registered, unexpired, and draining. */
  draining(url: string, now: number): boolean {
    return this.sql.exec<{ draining: number }>("SELECT draining FROM endpoints WHERE url = ? AND expires_at > ?", url, now).toArray()[0]?.draining === 1;
  }

  put(endpoint: RegisteredEndpoint, ttlMs: number, now: number): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO endpoints (url, weight, zone, version, draining, ttl_ms, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      endpoint.url,
      endpoint.weight,
      endpoint.zone ?? null,
      endpoint.version ?? null,
      endpoint.draining ? 1 : 0,
      ttlMs,
      now + ttlMs,
    );
  }
}

function toEndpoint(row: Row): RegisteredEndpoint {
  return {
    url: row.url,
    weight: row.weight,
    ...(row.zone !== null && { zone: row.zone }),
    ...(row.version !== null && { version: row.version }),
    draining: row.draining === 1,
  };
}
