/** The outlier-detection state machine, driven by hand-made reports on a clock the test controls. */
import { describe, expect, it } from "vitest";
import { applyReports, expireEjections, maxEjectable, nextEjectionEnd, type EndpointHealth, type EndpointReport, type OutlierConfig } from "../../common/outlier-detection.ts";

const config: OutlierConfig = {
  consecutive5xx: 5,
  consecutiveGateway: 0,
  intervalMs: 10_000,
  failurePercentage: undefined,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectionPercent: 10,
  halfOpenSuccesses: 3,
};

const report = (endpoint: string, outcomes: ("ok" | "5xx" | "gw")[]): EndpointReport => {
  let trailing = 0;
  let trailingGateway = 0;
  for (const o of outcomes) {
    trailing = o === "ok" ? 0 : trailing + 1;
    trailingGateway = o === "gw" ? trailingGateway + 1 : 0;
  }
  return {
    endpoint,
    total: outcomes.length,
    failures: outcomes.filter((o) => o !== "ok").length,
    gatewayFailures: outcomes.filter((o) => o === "gw").length,
    trailingFailures: trailing,
    trailingGatewayFailures: trailingGateway,
  };
};

const fresh = () => new Map<string, EndpointHealth>();

describe("ejection triggers", () => {
  it("counts consecutive 5xx across batches, and a success resets the count", () => {
    const states = fresh();
    applyReports(config, states, 10, [report("a", ["5xx", "5xx", "5xx"])], 0);
    applyReports(config, states, 10, [report("a", ["5xx", "ok", "5xx"])], 1);
    expect(states.get("a")).toMatchObject({ state: "healthy", consecutive5xx: 1 });
    applyReports(config, states, 10, [report("a", ["5xx", "5xx", "5xx", "5xx"])], 2);
    expect(states.get("a")).toMatchObject({ state: "ejected", ejectedUntil: 30_002, ejections: 1 });
  });

  it("ejects on consecutive gateway errors when configured, ignoring other 5xx", () => {
    const states = fresh();
    const gateway = { ...config, consecutive5xx: 0, consecutiveGateway: 3 };
    applyReports(gateway, states, 10, [report("a", ["5xx", "5xx", "5xx", "5xx"])], 0);
    expect(states.get("a")!.state).toBe("healthy");
    applyReports(gateway, states, 10, [report("a", ["gw", "gw", "gw"])], 1);
    expect(states.get("a")!.state).toBe("ejected");
  });

  it("ejects on failure percentage only once the interval has the request volume", () => {
    const states = fresh();
    const percentage = { ...config, consecutive5xx: 0, failurePercentage: { threshold: 50, requestVolume: 20 } };
    const mixed = (n: number) => Array.from({ length: n }, (_, i) => (i % 3 === 0 ? "ok" : "5xx") as "ok" | "5xx");
    applyReports(percentage, states, 10, [report("a", mixed(18))], 0);
    expect(states.get("a")!.state).toBe("healthy");
    applyReports(percentage, states, 10, [report("a", mixed(3))], 1);
    expect(states.get("a")!.state).toBe("ejected");
    // A new interval starts the count afresh.
    const later = fresh();
    applyReports(percentage, later, 10, [report("b", mixed(18))], 0);
    applyReports(percentage, later, 10, [report("b", mixed(3))], 10_001);
    expect(later.get("b")!.state).toBe("healthy");
  });
});

describe("ejection time and recovery", () => {
  it("probes half-open when the time is up; enough successes close it, one failure reopens it for longer", () => {
    const states = fresh();
    applyReports(config, states, 10, [report("a", Array(5).fill("5xx"))], 0);
    expect(nextEjectionEnd(states)).toBe(30_000);
    expect(expireEjections(states, 29_999).size).toBe(0);
    expect([...expireEjections(states, 30_000)]).toEqual(["a"]);
    expect(states.get("a")!.state).toBe("probing");
    applyReports(config, states, 10, [report("a", ["ok", "ok"])], 30_001);
    expect(states.get("a")!.state).toBe("probing");
    applyReports(config, states, 10, [report("a", ["5xx"])], 30_002);
    expect(states.get("a")).toMatchObject({ state: "ejected", ejections: 2, ejectedUntil: 30_002 + 60_000 });
    expireEjections(states, 90_002);
    applyReports(config, states, 10, [report("a", ["ok", "ok", "ok"])], 90_003);
    expect(states.get("a")!.state).toBe("healthy");
  });

  it("caps the ejection time, and lets the multiplier decay while the endpoint stays healthy", () => {
    const states = fresh();
    const short = { ...config, maxEjectionMs: 45_000 };
    let now = 0;
    for (let round = 0; round < 3; round++) {
      applyReports(short, states, 10, [report("a", Array(5).fill("5xx"))], now);
      const health = states.get("a")!;
      expect(health.ejectedUntil - now).toBe(Math.min(30_000 * (round + 1), 45_000));
      now = health.ejectedUntil;
      expireEjections(states, now);
      applyReports(short, states, 10, [report("a", ["ok", "ok", "ok"])], now);
    }
    // Healthy for 200 s, i.e. 20 intervals: the multiplier is back to zero, the next ejection is the base.
    now += 200_000;
    applyReports(short, states, 10, [report("a", Array(5).fill("5xx"))], now);
    expect(states.get("a")).toMatchObject({ ejections: 1, ejectedUntil: now + 30_000 });
  });
});

describe("max ejection percent", () => {
  it("allows max(1, percent of N) out at once, and never all", () => {
    expect([1, 2, 3, 10, 25].map((n) => maxEjectable(config, n))).toEqual([0, 1, 1, 1, 2]);
    expect(maxEjectable({ ...config, maxEjectionPercent: 100 }, 4)).toBe(3);
  });

  it("keeps a failed probe in service when another endpoint was ejected while it was probed", () => {
    // Three endpoints, one may be out. "a" is ejected; when it is probed, "b" fails and takes the slot.
    const states = fresh();
    applyReports(config, states, 3, [report("a", Array(5).fill("5xx"))], 0);
    expireEjections(states, 30_000);
    applyReports(config, states, 3, [report("b", Array(5).fill("5xx"))], 30_001);
    applyReports(config, states, 3, [report("a", ["5xx"])], 30_002);
    expect([states.get("a")!.state, states.get("b")!.state]).toEqual(["probing", "ejected"]);
  });

  it("leaves an outlier in service when the cap is reached", () => {
    const states = fresh();
    applyReports(config, states, 3, [report("a", Array(5).fill("5xx")), report("b", Array(5).fill("5xx"))], 0);
    expect([states.get("a")!.state, states.get("b")!.state]).toEqual(["ejected", "healthy"]);
  });
});
