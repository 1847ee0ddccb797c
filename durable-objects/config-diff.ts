/** Object-by-object, field-by-field difference between two policy sets, for diff previews and the audit log. */
import diff from "microdiff";
import { formatPath } from "../policies/errors.ts";
import type { FieldChange, Json, ObjectChange } from "../common/protocol.ts";

type Documents = readonly unknown[];

function byObject(documents: Documents): Map<string, Record<string, unknown>> {
  const map = new Map<string, Record<string, unknown>>();
  for (const document of documents) {
    const value = document as { kind?: string; metadata?: { name?: string; namespace?: string } };
    const namespace = value.metadata?.namespace;
    const name = namespace && namespace !== "default" ? `${namespace}/${value.metadata?.name}` : value.metadata?.name;
    map.set(`${value.kind}/${name}`, document as Record<string, unknown>);
  }
  return map;
}

export function diffDocuments(from: Documents, to: Documents): ObjectChange[] {
  const before = byObject(from);
  const after = byObject(to);
  const changes: ObjectChange[] = [];
  for (const [object, value] of after) {
    const old = before.get(object);
    if (!old) {
      changes.push({ object, change: "added" });
      continue;
    }
    const fields = diff(old, value).map(
      (change): FieldChange => ({
        path: formatPath(change.path),
        ...("oldValue" in change && { from: change.oldValue as Json }),
        ...("value" in change && { to: change.value as Json }),
      }),
    );
    if (fields.length) changes.push({ object, change: "changed", fields });
  }
  for (const object of before.keys()) if (!after.has(object)) changes.push({ object, change: "removed" });
  return changes.sort((a, b) => a.object.localeCompare(b.object));
}
