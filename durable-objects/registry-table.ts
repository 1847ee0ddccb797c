/**
 * The ConfigStore's copy of every backend's registered endpoints, as the BackendCoordinators publish
 * them: one row per backend, with the coordinator's `seq`, so a late call never brings back an older list.
 */
import type { RegisteredEndpoint } from "../common/protocol.ts";

export class RegistryTable {
  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS registry (backend TEXT PRIMARY KEY, endpoints TEXT NOT NULL, seq INTEGER NOT NULL)");
  }

  /** Stores a backend's list unless a newer one (by seq) is stored already; whether it did. */
  take(backend: string, endpoints: RegisteredEndpoint[], seq: number): boolean {
    const known = this.sql.exec<{ seq: number }>("SELECT seq FROM registry WHERE backend = ?", backend).toArray()[0]?.seq ?? -1;
    if (seq <= known) return false;
    this.sql.exec("INSERT OR REPLACE INTO registry (backend, endpoints, seq) VALUES (?, ?, ?)", backend, JSON.stringify(endpoints), seq);
    return true;
  }

  /** Backends with at least one registered endpoint, as the snapshot carries them. */
  all(): Record<string, RegisteredEndpoint[]> {
    const registry: Record<string, RegisteredEndpoint[]> = {};
    for (const entry of this.sql.exec<{ backend: string; endpoints: string }>("SELECT backend, endpoints FROM registry").toArray()) {
      const endpoints = JSON.parse(entry.endpoints) as RegisteredEndpoint[];
      if (endpoints.length) registry[entry.backend] = endpoints;
    }
    return registry;
  }
}
