/**
 * Istio's string matches compiled once: exact values in a set (one lookup however many), prefixes
 * ("abc*") and suffixes ("*abc") in lists, and "*" for any non-empty value (so `principals: ["*"]`
 * needs an authenticated caller: an anonymous one has no principal at all).
 */

export type StringTest = (value: string) => boolean;

export function compileStrings(patterns: readonly string[], fold: (value: string) => string = (value) => value): StringTest {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const suffixes: string[] = [];
  let any = false;
  for (const written of patterns) {
    const pattern = fold(written);
    if (pattern === "*") any = true;
    else if (pattern.endsWith("*")) prefixes.push(pattern.slice(0, -1));
    else if (pattern.startsWith("*")) suffixes.push(pattern.slice(1));
    else exact.add(pattern);
  }
  if (any) return (value) => value.length > 0;
  if (!prefixes.length && !suffixes.length) return (value) => exact.has(value);
  return (value) => {
    if (exact.has(value)) return true;
    for (const prefix of prefixes) if (value.startsWith(prefix)) return true;
    for (const suffix of suffixes) if (value.endsWith(suffix)) return true;
    return false;
  };
}
