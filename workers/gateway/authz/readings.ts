/**
 * The readings of a request that policies test, each computed once per request (request.ts memoizes
 * them) so evaluation costs what the policies hold, not what the client sends: a path's spellings,
 * a header's values, a claim's values.
 */

/**
 * The spellings of a path an origin might act on: as sent; with "//" merged (Istio's CVE-2021-31920);
 * with each segment's ";parameters" removed and dot segments then resolved, as Java origins (Tomcat,
 * Spring) read "/admin;x=1" and "/x/..;/admin". `folded`: the same lower-cased, for origins that
 * ignore case. A plain path (the common one) is one reading, and `folded` the same array.
 */
export interface PathReadings {
  readonly sent: readonly string[];
  readonly folded: readonly string[];
}

export function pathReadings(path: string): PathReadings {
  const sent = path.includes("//") || path.includes(";") ? spellings(path) : [path];
  if (!UPPER.test(path)) return { sent, folded: sent };
  const folded: string[] = [];
  for (const reading of sent) {
    const lower = reading.toLowerCase();
    if (!folded.includes(lower)) folded.push(lower);
  }
  return { sent, folded };
}

const UPPER = /[A-Z]/;

function spellings(path: string): string[] {
  const sent = [path];
  const add = (reading: string) => {
    if (!sent.includes(reading)) sent.push(reading);
  };
  if (path.includes("//")) add(mergeSlashes(path));
  if (path.includes(";")) for (const reading of [...sent]) add(withoutParameters(reading));
  for (let i = 1; i < sent.length; i++) if (sent[i]!.includes("//")) add(mergeSlashes(sent[i]!));
  return sent;
}

const mergeSlashes = (path: string) => path.replace(/\/{2,}/g, "/");

/** Each segment up to its first ";", then "." and ".." resolved as the URL parser does ("..;" is ".."). */
function withoutParameters(path: string): string {
  const out: string[] = [];
  const segments = path.split("/");
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    const semicolon = segment.indexOf(";");
    const name = semicolon < 0 ? segment : segment.slice(0, semicolon);
    const last = i === segments.length - 1;
    if (name === "..") {
      out.pop();
      if (last) out.push("");
    } else if (name === ".") {
      if (last) out.push("");
    } else out.push(name);
  }
  return `/${out.join("/")}`;
}

/** Past this many values, a header is not matched value by value: its conditions fail closed (rules.ts). */
export const MAX_HEADER_VALUES = 32;
/** A header with more than MAX_HEADER_VALUES values. */
export const TOO_MANY: readonly string[] = Object.freeze([]);
// Not frozen: V8's array builtins (some, every) take a slow path on frozen arrays.
const NO_HEADER: readonly string[] = [""];

/**
 * A header's values: workerd's Headers joins a repeated header with ", ", so the joined text split at
 * commas, spaces trimmed; an absent header is one empty value. Splitting stops at the cap, so a
 * hostile header costs no more than MAX_HEADER_VALUES values.
 */
export function splitHeader(joined: string | null): readonly string[] {
  if (joined === null) return NO_HEADER;
  if (!joined.includes(",")) return [joined.trim()];
  const values: string[] = [];
  for (let start = 0; ; ) {
    if (values.length === MAX_HEADER_VALUES) return TOO_MANY;
    const comma = joined.indexOf(",", start);
    values.push(joined.slice(start, comma < 0 ? undefined : comma).trim());
    if (comma < 0) return values;
    start = comma + 1;
  }
}

/** A claim's values: a string, a number or boolean as text, or a list of them; undefined when absent or not such. */
export function claimValues(claims: Readonly<Record<string, unknown>> | undefined, path: readonly string[]): readonly string[] | undefined {
  let value: unknown = claims;
  for (const part of path) {
    if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  const scalar = (item: unknown) => (typeof item === "string" ? item : typeof item === "number" || typeof item === "boolean" ? String(item) : undefined);
  if (Array.isArray(value)) return value.map(scalar).filter((item): item is string => item !== undefined);
  const one = scalar(value);
  return one === undefined ? undefined : [one];
}
