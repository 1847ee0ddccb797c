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
