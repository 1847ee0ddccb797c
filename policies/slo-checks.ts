/** Cross-document checks of ServiceLevelObjective: its Backend and HTTPRoute exist, in its namespace. */
import { errorAt, type PolicyError } from "./errors.ts";
import type { LocatedByKind } from "./kinds.ts";

export function checkObjectives(set: LocatedByKind, errors: PolicyError[]): void {
  if (!set.serviceLevelObjectives.length) return;
  const names = (list: readonly { value: { metadata: { namespace: string; name: string } } }[]) => new Set(list.map(({ value }) => `${value.metadata.namespace}/${value.metadata.name}`));
  const backends = names(set.backends);
  const routes = names(set.routes);
  for (const { document, value: slo } of set.serviceLevelObjectives) {
    const namespace = slo.metadata.namespace;
    if (!backends.has(`${namespace}/${slo.spec.backend}`)) errors.push(errorAt(document, ["spec", "backend"], `refers to unknown Backend "${slo.spec.backend}"`));
    if (slo.spec.route && !routes.has(`${namespace}/${slo.spec.route}`)) errors.push(errorAt(document, ["spec", "route"], `refers to unknown HTTPRoute "${slo.spec.route}"`));
  }
}
