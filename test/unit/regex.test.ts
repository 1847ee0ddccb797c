/** Policy regexes (policies/regex.ts): RE2 answers as ECMAScript did on ordinary route regexes, and refuses what RE2 refuses. */
import { describe, expect, it } from "vitest";
import { RE2JS } from "re2js";
import { compileRegex, DFA_CACHE_BUDGET_BYTES, dfaCacheBytes, MAX_PROGRAM_SIZE, regexAccountBytes, regexError, startRegexAccount } from "../../policies/regex.ts";
import { ClientSelector, HTTPRouteMatch } from "../../policies/schema/index.ts";
import { compileSelectors } from "../../workers/gateway/ratelimit/selectors.ts";
import { compileMatch } from "../../workers/gateway/table/match.ts";

/** Patterns that mean the same in both syntaxes, with values each should or should not match whole. */
const ORDINARY: [pattern: string, values: string[]][] = [
  ["/items/[0-9]+", ["/items/42", "/items/", "/items/42/more", "x/items/42", "/items/4a"]],
  ["/api/v\\d+/.*", ["/api/v2/users", "/api/v2/", "/api/v/users", "/API/v2/users", "/api/v2"]],
  ["(.*;\\s*)?canary=v3(;.*)?", ["canary=v3", "a=1; canary=v3", "a=1;canary=v3; b=2", "canary=v33", "a=1; xcanary=v3", "canary=v3 "]],
  ["2|3", ["2", "3", "23", "", "33"]],
  ["a|ab", ["a", "ab", "abc"]],
  ["^/anchored$", ["/anchored", "/anchored/", "x/anchored"]],
  ["\\w+\\s\\w+", ["hello world", "hello  world", "hello_1 x", "hello\tworld", "héllo world"]],
  ["[A-Z][a-z]*", ["Bob", "bob", "BOB", "B"]],
  ["[^/]+\\.(png|jpe?g)", ["a.png", "a.jpg", "a.jpeg", "a/b.png", "a.PNG", ".png"]],
  ["Mozilla/.*(iPhone|Android).*", ["Mozilla/5.0 (Linux; Android 14)", "Mozilla/5.0 (X11; Linux)", "mozilla/5.0 (iPhone)"]],
  ["v[1-3](\\.[0-9]+){0,2}", ["v1", "v2.10", "v3.1.4", "v3.1.4.1", "v4"]],
  ["\\d{4}-\\d{2}-\\d{2}", ["2024-01-31", "2024-1-31", "20240131"]],
  ["(?:/[a-z]+)+/?", ["/a/b/", "/a//b", "/", "/a/b"]],
  [".*", ["", "anything at all"]],
  ["\\bend\\b.*", ["end", "end now", "ending"]],
  ["[\\-.]+", ["-.-", "a"]],
];

describe("RE2 matcher (full-match semantics)", () => {
  for (const [pattern, values] of ORDINARY) {
    it(`answers as ^(?:${pattern})$ does in ECMAScript`, () => {
      const re2 = compileRegex(pattern);
      const ecma = new RegExp(`^(?:${pattern})$`);
      expect(values.map((value) => re2.test(value))).toEqual(values.map((value) => ecma.test(value)));
    });
  }

  it("is case-sensitive unless the pattern says (?i)", () => {
    expect(compileRegex("/Api").test("/api")).toBe(false);
    expect(compileRegex("(?i)/Api").test("/aPI")).toBe(true);
  });

  it("matches a hostile input for (a+)+$ without backtracking", () => {
    // ECMAScript's RegExp takes exponential time here (about 2^n steps); RE2 one pass.
    expect(compileRegex("(a+)+$").test(`${"a".repeat(100_000)}!`)).toBe(false);
    expect(compileRegex("(a+)+$").test("a".repeat(100_000))).toBe(true);
  });
});

describe("every regex the gateway builds from policy is RE2", () => {
  // With RegExp each of these would take ~2^100000 steps; with RE2 they return at once.
  const hostile = `${"a".repeat(100_000)}!`;

  it("in route path, header and query matches", () => {
    const match = (spec: unknown) => compileMatch(HTTPRouteMatch.parse(spec));
    const view = { method: "GET", path: `/${hostile}`, headers: new Headers({ "x-probe": hostile }), query: new URLSearchParams({ q: hostile }) };
    expect(match({ path: { type: "RegularExpression", value: "/(a+)+$" } }).test(view)).toBe(false);
    expect(match({ headers: [{ name: "x-probe", type: "RegularExpression", value: "(a+)+$" }] }).test(view)).toBe(false);
    expect(match({ queryParams: [{ name: "q", type: "RegularExpression", value: "(a+)+$" }] }).test(view)).toBe(false);
    expect(match({ headers: [{ name: "x-probe", type: "RegularExpression", value: "(a+)+!" }] }).test(view)).toBe(true);
  });

  it("in rate-limit header selectors", () => {
    const keyOf = compileSelectors([ClientSelector.parse({ headers: [{ name: "x-probe", type: "RegularExpression", value: "(a+)+$" }] })]);
    expect(keyOf(new Request("http://x.test/", { headers: { "x-probe": hostile } }))).toBeUndefined();
    expect(keyOf(new Request("http://x.test/", { headers: { "x-probe": "aaa" } }))).toBe("");
  });
});

describe("what RE2 refuses", () => {
  it.each([
    ["(a)\\1", "invalid escape sequence: `\\1`"],
    ["a(?=b)", "invalid or unsupported Perl syntax: `(?=`"],
    ["a(?!b)", "invalid or unsupported Perl syntax: `(?!`"],
    ["(?<=a)b", "invalid or unsupported Perl syntax: `(?<=`"],
    ["(?<n", "invalid named capture: `(?<n`"],
    ["a++", "invalid nested repetition operator: `++`"],
    ["a{1001}", "invalid repeat count: `{1001}`"],
    ["\\u0041", "invalid escape sequence: `\\u`"],
    ["([", "missing closing ]: `[`"],
    ["a\\", "trailing backslash at end of expression"],
  ])("%s: %s", (pattern, reason) => {
    expect(regexError(pattern)).toBe(reason);
    expect(() => compileRegex(pattern)).toThrow(`invalid RE2 regular expression ${JSON.stringify(pattern)}: ${reason}`);
  });

  it(`bounds the compiled program to ${MAX_PROGRAM_SIZE} instructions`, () => {
    expect(regexError("a{95}")).toBeUndefined();
    expect(regexError("a{1000}")).toBe(`compiles to 1002 instructions, more than the ${MAX_PROGRAM_SIZE} allowed`);
  });
});

describe("the DFA caches of all regexes together", () => {
  // Each needs 2^20 DFA states to match in full: every new 8 KB value adds thousands (~3 MB).
  const HOSTILE = ["(a|b)*a(a|b){20}", "(a|b)*b(a|b){20}", "(a|b)*a(a|b){19}", "(a|b)*b(a|b){19}"];
  /** Deterministic a/b strings (a linear congruential generator), so every run builds the same states. */
  function values(seed: number, count: number, length = 8_000): string[] {
    let state = seed;
    return Array.from({ length: count }, () => {
      let value = "";
      for (let i = 0; i < length; i++) value += (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) & 0x100 ? "a" : "b";
      return value;
    });
  }
  /** Full match of (a|b)*X(a|b){n}: the (n+1)-th character from the end is X. */
  const expected = (pattern: string, value: string) => value[value.length - 1 - Number(/\{(\d+)\}/.exec(pattern)![1])] === pattern[6];

  it("are accounted as re2js accounts them", () => {
    startRegexAccount();
    const matcher = compileRegex(HOSTILE[0]!);
    const twin = RE2JS.compile(HOSTILE[0]!);
    for (const value of values(1, 2)) {
      matcher.test(value);
      twin.testExact(value);
    }
    // The read of re2js's internals still finds them (a new re2js that moved them fails here).
    expect(dfaCacheBytes(twin)).toBeGreaterThan(1_000_000);
    expect(regexAccountBytes()).toBe(dfaCacheBytes(twin));
  });

  it(`stay within ${DFA_CACHE_BUDGET_BYTES / 2 ** 20} MiB however many regexes inputs fill, and match as before`, () => {
    startRegexAccount();
    const matchers = HOSTILE.map((pattern) => ({ pattern, matcher: compileRegex(pattern), unbounded: RE2JS.compile(pattern) }));
    let most = 0;
    let wrong = 0;
    for (const batch of [values(2, 6), values(3, 6), values(4, 6)]) {
      for (const { pattern, matcher, unbounded } of matchers) {
        for (const value of batch) {
          if (matcher.test(value) !== expected(pattern, value)) wrong++;
          unbounded.testExact(value);
          // Each match may pass the budget by its own growth; what it leaves behind is within it.
          most = Math.max(most, regexAccountBytes());
        }
      }
    }
    expect(wrong).toBe(0);
    expect(most).toBeLessThanOrEqual(DFA_CACHE_BUDGET_BYTES);
    // Without the account the same inputs leave far more behind (re2js bounds each regex at 8 MB).
    const unboundedBytes = matchers.reduce((sum, { unbounded }) => sum + dfaCacheBytes(unbounded), 0);
    expect(unboundedBytes).toBeGreaterThan(1.5 * DFA_CACHE_BUDGET_BYTES);
  });

  it("start over with a new table: the last one's regexes are no longer counted", () => {
    startRegexAccount();
    const old = compileRegex(HOSTILE[1]!);
    for (const value of values(5, 2)) old.test(value);
    expect(regexAccountBytes()).toBeGreaterThan(0);
    startRegexAccount();
    expect(regexAccountBytes()).toBe(0);
    const fresh = compileRegex("/items/[0-9]+");
    expect(fresh.test("/items/42")).toBe(true);
    expect(regexAccountBytes()).toBeLessThan(100_000);
  });
});
