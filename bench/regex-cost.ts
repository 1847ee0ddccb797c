/**
 * `npx tsx bench/regex-cost.ts`: what RE2 (re2js) costs per match against V8's RegExp, for ordinary
 * route regexes and hostile inputs, and why programs are bounded (policies/regex.ts). Figures in
 * README ("Matching decisions"); relative figures only on a shared machine.
 */
import { RE2JS } from "re2js";
import { compileRegex, MAX_PROGRAM_SIZE } from "../policies/regex.ts";

/** Mean ns per call, after a warm-up. */
function nsPer(call: () => unknown, iterations: number): number {
  for (let i = 0; i < Math.min(iterations, 1_000); i++) call();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) call();
  return Number(process.hrtime.bigint() - start) / iterations;
}

const ORDINARY: [string, string][] = [
  ["2|3", "3"],
  ["/items/[0-9]+", "/items/12345"],
  ["/api/v[0-9]+/.*", "/api/v2/users/42/orders"],
  ["(.*;\\s*)?canary=v3(;.*)?", "session=abcdef0123456789; theme=dark; canary=v3; lang=en"],
  ["Mozilla/.*(iPhone|Android).*", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36"],
];

console.log("pattern | input chars | RegExp ns | RE2 testExact ns | RE2 matcher().matches() ns | instructions");
for (const [source, input] of ORDINARY) {
  const native = new RegExp(`^(?:${source})$`);
  const re2 = RE2JS.compile(source);
  const matcher = compileRegex(source);
  const figures = [nsPer(() => native.test(input), 200_000), nsPer(() => matcher.test(input), 200_000), nsPer(() => re2.matcher(input).matches(), 50_000)];
  console.log(`${source} | ${input.length} | ${figures.map((ns) => ns.toFixed(0)).join(" | ")} | ${re2.programSize()}`);
}

console.log("\ncompile, per pattern:", (nsPer(() => compileRegex("(.*;\\s*)?canary=v3(;.*)?"), 5_000) / 1000).toFixed(1), "us");

for (const n of [2_000, 8_000, 32_000]) {
  const matcher = compileRegex("(a+)+$");
  const input = `${"a".repeat(n)}!`;
  console.log(`(a+)+$ against "a"x${n} + "!": ${(nsPer(() => matcher.test(input), 200) / 1000).toFixed(0)} us`);
}

// The worst inputs known for a program of a given size: a DFA state per position, each ~size wide.
let seed = 1;
const random = () => (seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x7fffffff;
const hostile = Array.from({ length: 8_000 }, () => (random() < 0.5 ? "a" : "b")).join("") + "!";
console.log("");
for (const k of [20, 95, 150, 195, 295]) {
  const source = `[ab]*a[ab]{${k}}`;
  const re2 = RE2JS.compile(source);
  const ms = nsPer(() => re2.testExact(hostile), 3) / 1e6;
  const allowed = re2.programSize() <= MAX_PROGRAM_SIZE ? "allowed" : "refused";
  console.log(`${source} (${re2.programSize()} instructions, ${allowed}) against 8,000 random a/b: ${ms.toFixed(1)} ms`);
}
