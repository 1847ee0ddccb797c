/** Gateway API header modifiers compiled to one function: remove, then set (overwrite), then add (append). */
import type { HeaderModifier } from "../../../policies/schema/index.ts";

export type HeaderOps = (headers: Headers) => void;

export function compileHeaderOps(modifier: HeaderModifier | undefined): HeaderOps | undefined {
  if (!modifier) return undefined;
  const remove = modifier.remove ?? [];
  const set = modifier.set ?? [];
  const add = modifier.add ?? [];
  if (!remove.length && !set.length && !add.length) return undefined;
  return (headers) => {
    for (const name of remove) headers.delete(name);
    for (const { name, value } of set) headers.set(name, value);
    for (const { name, value } of add) headers.append(name, value);
  };
}

/** Runs several optional ops in order, or returns undefined when there are none. */
export function chainHeaderOps(...ops: (HeaderOps | undefined)[]): HeaderOps | undefined {
  const present = ops.filter((op): op is HeaderOps => op !== undefined);
  if (present.length <= 1) return present[0];
  return (headers) => {
    for (const op of present) op(headers);
  };
}
