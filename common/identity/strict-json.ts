/**
 * Checks JSON text before JSON.parse reads it: JSON.parse keeps the last of duplicate keys, so
 * `{"sub":"a","sub":"b"}` means "b" to this verifier and maybe "a" to another one (a parser
 * differential). A token whose header or payload repeats a key (also in another spelling,
 * `"s\u0075b"`) or nests deeper than the bound is refused instead.
 */

export type JsonProblem = "invalid_json" | "duplicate_key" | "too_deeply_nested";

class Problem {
  constructor(readonly code: JsonProblem) {}
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const STRING_BODY = /(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/** Undefined when `text` is one JSON value with no duplicate object key and at most `maxDepth` levels. */
export function checkStrictJson(text: string, maxDepth: number): JsonProblem | undefined {
  let i = 0;
  const fail = (code: JsonProblem = "invalid_json"): never => {
    throw new Problem(code);
  };
  const space = () => {
    for (let c = text.charCodeAt(i); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = text.charCodeAt(++i));
  };
  const string = (): string => {
    const start = i++;
    STRING_BODY.lastIndex = i;
    if (!STRING_BODY.test(text)) fail();
    i = STRING_BODY.lastIndex;
    return text.slice(start, i);
  };
  const value = (depth: number): void => {
    space();
    const c = text[i];
    if (c === "{" || c === "[") {
      if (depth >= maxDepth) fail("too_deeply_nested");
      i++;
      space();
      const keys = c === "{" ? new Set<string>() : undefined;
      const close = c === "{" ? "}" : "]";
      if (text[i] === close) return void i++;
      for (;;) {
        if (keys) {
          space();
          if (text[i] !== '"') fail();
          // Keys compare as the strings they decode to: "sub" and "s\u0075b" are the same key.
          const key = JSON.parse(string()) as string;
          if (keys.has(key)) fail("duplicate_key");
          keys.add(key);
          space();
          if (text[i++] !== ":") fail();
        }
        value(depth + 1);
        space();
        const next = text[i++];
        if (next === close) return;
        if (next !== ",") fail();
      }
    }
    if (c === '"') return void string();
    for (const literal of ["true", "false", "null"]) if (text.startsWith(literal, i)) return void (i += literal.length);
    NUMBER.lastIndex = i;
    if (!NUMBER.test(text)) fail();
    i = NUMBER.lastIndex;
  };
  try {
    value(0);
    space();
    return i === text.length ? undefined : "invalid_json";
  } catch (error) {
    if (error instanceof Problem) return error.code;
    throw error;
  }
}
