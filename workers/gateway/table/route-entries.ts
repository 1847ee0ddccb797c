/**
 * A route's entries (one per match of each rule) and its compiled rules, made on first use: a table
 * of 10 000 routes is ready before their rules are, a host's entries are made when its path index is
 * (virtual-hosts.ts), and an entry's match when a request's path first leads to it. The entries are
 * made once per route and shared by every hostname it lists.
 */
import type { HTTPRoute, HTTPRouteMatch } from "../../../policies/schema/index.ts";
import { compileMatch, pathKeyOf, pathTypeOf, precedenceRank, type CompiledMatch, type PathType } from "./match.ts";
import { compileRule, type CompiledRule, type RuleContext } from "./rule.ts";
import type { RouteEntry } from "./virtual-hosts.ts";

const NO_MATCHES = [{}];

export class RouteSource {
  /** Kept only for a route in several hostname groups, whose indexes must share them. */
  private entries: RouteEntry[] | undefined;
  private rules: (CompiledRule | undefined)[] | undefined;

  constructor(
    readonly route: HTTPRoute,
    private readonly context: RuleContext,
  ) {}

  /** Appends the route's entries to a hostname group's list. */
  addEntries(to: RouteEntry[]): void {
    if (this.entries) {
      for (const entry of this.entries) to.push(entry);
      return;
    }
    const shared = (this.route.spec.hostnames?.length ?? 0) > 1;
    const from = to.length;
    const rules = this.route.spec.rules;
    for (let ruleIndex = 0; ruleIndex < rules.length; ruleIndex++) {
      const matches = rules[ruleIndex]!.matches?.length ? rules[ruleIndex]!.matches! : NO_MATCHES;
      for (let matchIndex = 0; matchIndex < matches.length; matchIndex++) to.push(new Entry(matches[matchIndex]!, this, ruleIndex, matchIndex));
    }
    if (shared) this.entries = to.slice(from);
  }

  rule(ruleIndex: number): CompiledRule {
    const rules = (this.rules ??= []);
    return (rules[ruleIndex] ??= compileRule(this.route, this.route.spec.rules[ruleIndex]!, ruleIndex, this.context));
  }

  allRules(): CompiledRule[] {
    return this.route.spec.rules.map((_, ruleIndex) => this.rule(ruleIndex));
  }
}

/** An entry's match is compiled when the request path first reaches it (the index needs only its path). */
class Entry implements RouteEntry {
  readonly pathType: PathType;
  readonly pathKey: string;
  private compiled: CompiledMatch | undefined;
  private tieBreak: readonly [string, number, number] | undefined;

  constructor(
    private readonly written: HTTPRouteMatch,
    private readonly source: RouteSource,
    private readonly ruleIndex: number,
    private readonly matchIndex: number,
  ) {
    this.pathType = pathTypeOf(written);
    this.pathKey = pathKeyOf(written);
  }

  get rank(): number {
    return precedenceRank(this.written);
  }

  get match(): CompiledMatch {
    return (this.compiled ??= compileMatch(this.written));
  }

  get rule(): CompiledRule {
    return this.source.rule(this.ruleIndex);
  }

  get order(): readonly [string, number, number] {
    const { namespace, name } = this.source.route.metadata;
    return (this.tieBreak ??= [`${namespace}/${name}`, this.ruleIndex, this.matchIndex]);
  }
}
