/** The Gateway API's path modifiers, shared by RequestRedirect and URLRewrite. */
import type { Rewrite } from "../table/rule.ts";

type PathModifier = NonNullable<Rewrite["path"]>;

/** ReplacePrefixMatch swaps the matched prefix only: "/foo" → "/bar" turns "/foo/x" into "/bar/x". */
export function modifyPath(path: string, modifier: PathModifier, matchedPrefix: string | undefined): string {
  if (modifier.type === "ReplaceFullPath") return modifier.replaceFullPath;
  const prefix = matchedPrefix === undefined || matchedPrefix === "/" ? "" : matchedPrefix;
  const rest = path.slice(prefix.length);
  const replaced = modifier.replacePrefixMatch.replace(/\/+$/, "") + rest;
  return replaced.startsWith("/") ? replaced : `/${replaced}`;
}
