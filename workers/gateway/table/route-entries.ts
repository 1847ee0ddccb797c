/**
 * The routes' entries (one per match of each rule) and their compiled rules, made on first use: a
 * table of 10 000 routes is ready before their rules are, a host's entries are made when its path
 * index is (virtual-hosts.ts), and an entry's match when a request's path first leads to it. Routes
 * are referred to by their position, so nothing is made per route until then. The entries of a
 * route listing several hostnames are made once and shared by their indexes.
 */
import type { HTTPRoute, HTTPRouteMatch } from "../../../policies/schema/index.ts";
import { compileMatch, pathKeyOf, precedenceRank, type CompiledMatch, type PathType } from "./match.ts";
import type { EntrySink } from "./path-index.ts";
import { compileRule, type CompiledRule, type RuleContext } from "./rule.ts";
import type { RouteEntry } from "./virtual-hosts.ts";

const NO_MATCHES = [{}];

export class RouteSet {
  private readonly compiled: (CompiledRule | undefined)[][] = [];
  private readonly shared = new Map<number, RouteEntry[]>();

  constructor(
    readonly routes: readonly HTTPRoute[],
    private readonly contextOf: (route: HTTPRoute) => RuleContext,
  ) {}

  /** Adds route `index`'s entries to a hostname group's index. */
  addEntries(index: number, to: EntrySink): void {
    const known = this.shared.size ? this.shared.get(index) : undefined;
    if (known) {
      for (const entry of known) to.add(entry);
      return;
    }
    const route = this.routes[index]!;
    const keep: RouteEntry[] | undefined = (route.spec.hostnames?.length ?? 0) > 1 ? [] : undefined;
    const rules = route.spec.rules;
    for (let ruleIndex = 0; ruleIndex < rules.length; ruleIndex++) {
      const matches = rules[ruleIndex]!.matches?.length ? rules[ruleIndex]!.matches! : NO_MATCHES;
      for (let matchIndex = 0; matchIndex < matches.length; matchIndex++) {
        const entry = new Entry(matches[matchIndex]!, this, index, ruleIndex, matchIndex);
        to.add(entry);
        keep?.push(entry);
      }
    }
    if (keep) this.shared.set(index, keep);
  }

  rule(index: number, ruleIndex: number): CompiledRule {
    const rules = (this.compiled[index] ??= []);
    const route = this.routes[index]!;
    return (rules[ruleIndex] ??= compileRule(route, route.spec.rules[ruleIndex]!, ruleIndex, this.contextOf(route)));
  }

  /** Every rule of every route, compiled (for views over the policies in force). */
  allRules(): CompiledRule[] {
    return this.routes.flatMap((route, index) => route.spec.rules.map((_, ruleIndex) => this.rule(index, ruleIndex)));
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
    private readonly routes: RouteSet,
    private readonly index: number,
    private readonly ruleIndex: number,
    private readonly matchIndex: number,
  ) {
    // pathTypeOf and pathKeyOf, inline: this runs for every match of a host on its first request.
    const path = written.path;
    this.pathType = path?.type ?? "PathPrefix";
    const value = path?.value ?? "/";
    this.pathKey = this.pathType === "PathPrefix" && value.charCodeAt(value.length - 1) === 47 ? pathKeyOf(written) : value;
  }

  get rank(): number {
    return precedenceRank(this.written);
  }

  get match(): CompiledMatch {
    return (this.compiled ??= compileMatch(this.written));
  }

  get rule(): CompiledRule {
    return this.routes.rule(this.index, this.ruleIndex);
  }

  get order(): readonly [string, number, number] {
    const { namespace, name } = this.routes.routes[this.index]!.metadata;
    return (this.tieBreak ??= [`${namespace}/${name}`, this.ruleIndex, this.matchIndex]);
  }
}
