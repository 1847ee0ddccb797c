/** Weighted random choice: stateless, so every isolate spreads load the same way. */
import type { Balancer } from "./endpoint.ts";

export function weightedRandom<T extends { weight: number }>(items: readonly T[], random = Math.random): T | undefined {
  if (items.length <= 1) return items[0];
  let total = 0;
  for (const item of items) total += item.weight;
  let point = random() * total;
  for (const item of items) {
    point -= item.weight;
    if (point < 0) return item;
  }
  return items[items.length - 1];
}

export const random = (): Balancer => (endpoints) => weightedRandom(endpoints);
