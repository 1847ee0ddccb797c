/**
 * Policy regular expressions: RE2 syntax, matched by re2js (a pure JavaScript port of RE2) in time
 * linear in the input whatever the pattern, so a client-controlled path, header or query value
 * cannot make a route regex backtrack (ReDoS), as it can with ECMAScript's RegExp. The schemas
 * validate with this module and the gateway matches with it: what validates is what runs.
 */
import { RE2JS, RE2JSException, RE2JSSyntaxException } from "re2js";

/**
 * Most instructions a compiled pattern may have: Envoy's default for RE2 (`re2.max_program_size`).
 * Matching is linear in the input but its constant grows with the program, and past about 180
 * instructions re2js's lazy DFA gives up on hostile inputs and an 8 KB header costs ~100 ms instead
 * of ~1 ms (figures in README, "Matching decisions").
 */
export const MAX_PROGRAM_SIZE = 100;

/** A compiled pattern that matches whole values only, as if it were `^(?:pattern)$`. */
export interface RegexMatcher {
  test(value: string): boolean;
}

type Compiled = { ok: true; pattern: RE2JS } | { ok: false; reason: string };

function compile(source: string): Compiled {
  let pattern: RE2JS;
  try {
    pattern = RE2JS.compile(source);
  } catch (error) {
    if (error instanceof RE2JSSyntaxException) {
      // RE2's own words and the offending fragment: "invalid or unsupported Perl syntax: `(?=`".
      const fragment = error.getPattern();
      // RE2 reads a lookbehind as a malformed named group; say what it is, as for a lookahead.
      const lookbehind = fragment?.match(/^\(\?<[=!]/)?.[0];
      if (lookbehind) return { ok: false, reason: `invalid or unsupported Perl syntax: \`${lookbehind}\`` };
      return { ok: false, reason: fragment ? `${error.getDescription()}: \`${fragment}\`` : error.getDescription() };
    }
    if (error instanceof RE2JSException) return { ok: false, reason: error.message };
    throw error;
  }
  const size = pattern.programSize();
  if (size > MAX_PROGRAM_SIZE) {
    return { ok: false, reason: `compiles to ${size} instructions, more than the ${MAX_PROGRAM_SIZE} allowed` };
  }
  return { ok: true, pattern };
}

/** Why RE2 (or the program size bound) refuses `source`, or undefined when it is a valid policy regex. */
export function regexError(source: string): string | undefined {
  const compiled = compile(source);
  return compiled.ok ? undefined : compiled.reason;
}

/**
 * The lazy DFA cache of all of an isolate's policy regexes together, in re2js's own accounting (which
 * the heap follows: a regex filled by hostile inputs holds ~8 MB). re2js bounds each regex at 8 MB,
 * not their sum, so a policy set with a dozen regexes that inputs can blow up (`(a|b)*a(a|b){20}`)
 * would let clients take an isolate past its 128 MB. Past this total, the regex that just grew
 * starts over with an empty cache: its matches cost more while it refills, and nothing else does.
 * The sum can pass it by one match's growth at most (a few MB for an 8 KB header).
 */
export const DFA_CACHE_BUDGET_BYTES = 16 * 1024 * 1024;

/** What re2js 2.10 keeps of its lazy DFA (build/index.js, class DFA); read only, to account for it. */
interface DfaInternals {
  re2Input?: { lazyDFA?: { maxMem?: unknown; memBudget?: unknown } | null } | null;
}

/** Cache bytes the pattern's DFA holds now; 0 when it has none (one-pass and literal patterns never make one). */
export function dfaCacheBytes(pattern: RE2JS): number {
  const dfa = (pattern as unknown as DfaInternals).re2Input?.lazyDFA;
  if (!dfa || typeof dfa.maxMem !== "number" || typeof dfa.memBudget !== "number") return 0;
  return dfa.maxMem - dfa.memBudget;
}

/** The isolate's account: the current configuration's regexes; a new table starts it over. */
const account = { generation: 0, bytes: 0 };

/** A new routing table: the regexes of the last one are garbage (or soon are), and no longer counted. */
export function startRegexAccount(): void {
  account.generation++;
  account.bytes = 0;
}

/** The account's total, for tests. */
export const regexAccountBytes = (): number => account.bytes;

/**
 * Compiles a validated pattern once per configuration version (again only when its cache passes the
 * isolate's DFA budget, above). Throws for a pattern `regexError` refuses, so an unvalidated one
 * fails loudly rather than matching nothing.
 */
export function compileRegex(source: string): RegexMatcher {
  const compiled = compile(source);
  if (!compiled.ok) throw new Error(`invalid RE2 regular expression ${JSON.stringify(source)}: ${compiled.reason}`);
  let { pattern } = compiled;
  let generation = account.generation;
  let counted = 0;
  return {
    test(value) {
      // testExact: anchored at both ends on the DFA, without captures or a Matcher object per call.
      const matched = pattern.testExact(value);
      if (generation !== account.generation) {
        // A new table's account: what this (older) regex holds is counted afresh.
        generation = account.generation;
        counted = 0;
      }
      const bytes = dfaCacheBytes(pattern);
      account.bytes += bytes - counted;
      counted = bytes;
      if (account.bytes > DFA_CACHE_BUDGET_BYTES) {
        // A fresh compile drops the whole cache (re2js's public reset() keeps the DFA).
        pattern = RE2JS.compile(source);
        account.bytes -= counted;
        counted = 0;
      }
      return matched;
    },
  };
}
