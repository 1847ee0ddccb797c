/**
 * ReDoS: RegularExpression matches run on RE2 (re2js), so a hostile path or header costs the gateway
 * time linear in its length. With ECMAScript's backtracking RegExp, `(a+)+$` against "a"×n + "!"
 * takes about 2^n steps: seconds at n = 30, never at the lengths used here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, route } from "../support/policies.ts";
import { Upstream, type Echo } from "../support/upstream.ts";

let matched: Upstream;
let fallback: Upstream;
let gateway: TestGateway;

const HOSTILE = "(a+)+$";
// 15 rules of 64 matches and a fallback rule (the schema allows 16 of 64): a request that matches
// none is tested against all 960 regexes, so their cost dominates the request's own overhead.
const manyMatches = (match: () => Record<string, unknown>) =>
  Array.from({ length: 15 }, () => ({ matches: Array.from({ length: 64 }, match), backendRefs: [{ name: "matched" }] }));

beforeAll(async () => {
  matched = await Upstream.start("matched");
  fallback = await Upstream.start("fallback");
  gateway = await TestGateway.start([
    backend("matched", [matched.url]),
    backend("fallback", [fallback.url]),
    route("header-regex", {
      hostnames: ["header.test"],
      rules: [...manyMatches(() => ({ headers: [{ name: "x-probe", type: "RegularExpression", value: HOSTILE }] })), { backendRefs: [{ name: "fallback" }] }],
    }),
    route("path-regex", {
      hostnames: ["path.test"],
      rules: [...manyMatches(() => ({ path: { type: "RegularExpression", value: `/p/${HOSTILE}` } })), { backendRefs: [{ name: "fallback" }] }],
    }),
  ]);
});

afterAll(async () => {
  await gateway.dispose();
  await Promise.all([matched.close(), fallback.close()]);
});

const hostile = (n: number) => `${"a".repeat(n)}!`;

const requests = {
  header: (value: string) => gateway.json<Echo>("http://header.test/", { headers: { "x-probe": value } }),
  path: (value: string) => gateway.json<Echo>(`http://path.test/p/${value}`),
};

type Send = (value: string) => Promise<{ status: number; body: Echo }>;

/** One request that must reach the fallback backend; its wall time in ms. */
async function timed(send: Send, value: string): Promise<number> {
  const start = performance.now();
  const { status, body } = await send(value);
  const elapsed = performance.now() - start;
  expect(status).toBe(200);
  expect(body.server).toBe("fallback");
  return elapsed;
}

/**
 * `count` pairs of requests, short then long, back to back: a burst of load from other processes
 * skews a pair or two, and the median of the pairs' ratios ignores them where a ratio of totals would not.
 */
async function pairs(send: Send, short: string, long: string, count: number) {
  const ratios: number[] = [];
  let shortTotal = 0;
  let longTotal = 0;
  for (let i = 0; i < count; i++) {
    const shortMs = await timed(send, short);
    const longMs = await timed(send, long);
    ratios.push(longMs / shortMs);
    shortTotal += shortMs;
    longTotal += longMs;
  }
  ratios.sort((a, b) => a - b);
  const median = (ratios[(count - 1) >> 1]! + ratios[count >> 1]!) / 2;
  return { median, summary: `${shortTotal.toFixed(0)} ms at the short length, ${longTotal.toFixed(0)} ms at the long, pair ratios ${ratios.map((r) => r.toFixed(1)).join(" ")}` };
}

describe("RegularExpression matches cost linear time", () => {
  it("still match what they should", async () => {
    expect((await requests.header("aaaa")).body.server).toBe("matched");
    expect((await requests.header("aaab")).body.server).toBe("fallback");
    expect((await requests.path("aaaa")).body.server).toBe("matched");
    expect((await requests.path("aaa!")).body.server).toBe("fallback");
  });

  // n and 4n: a header value of 8,000 characters fits workerd's limits, a path of 8,000 a URL. At
  // n = 2,000 a request costs ~100 ms against ~10 ms for a 2-character value: the regexes dominate.
  const n = 2_000;
  for (const kind of ["header", "path"] as const) {
    it(`answers hostile ${kind}s of ${n} and ${4 * n} characters, in time linear in their length`, async () => {
      const send = requests[kind];
      await pairs(send, hostile(n), hostile(4 * n), 1); // Warm up: JIT and each regex's lazy DFA.
      const { median, summary } = await pairs(send, hostile(n), hostile(4 * n), 9);
      // Tolerance: linear cost predicts a ratio of at most 4 (less, as per-request overhead does not
      // grow); quadratic would give 16, exponential never finish. Under load (2 cores, `yes` and
      // other test runs beside it) medians of 3.2-4.2 were seen, single pairs up to 12; 10 leaves
      // more than 2x above the medians.
      expect(median, summary).toBeLessThan(10);
    }, 120_000);
  }
});
