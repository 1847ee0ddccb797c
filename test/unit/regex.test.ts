/** Policy regexes (policies/regex.ts): RE2 answers as ECMAScript did on ordinary route regexes, and refuses what RE2 refuses. */
import { describe, expect, it } from "vitest";
import { compileRegex, MAX_PROGRAM_SIZE, regexError } from "../../policies/regex.ts";
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
