/** Finds and reads policy files for the CLIs: the named ones, or every YAML file in policies/. */
import { readdirSync, readFileSync } from "node:fs";
import { isAbsolute, join, relative, sep } from "node:path";
import { formatError, type PolicyError, type SourceDocument } from "../errors.ts";
import { parsePolicySet, type PolicySetResult } from "../policy-set.ts";
import { loadYaml } from "../yaml.ts";

export const POLICY_DIR = new URL("..", import.meta.url).pathname;

/** policies/*.yaml, named relative to the working directory when they are inside it, else absolute. */
export function defaultPolicyFiles(): string[] {
  return readdirSync(POLICY_DIR)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => displayPath(join(POLICY_DIR, name)));
}

/** A path as messages show it: relative when it is inside the working directory, else absolute ("../x.yaml" helps nobody). */
export function displayPath(absolute: string): string {
  const path = relative(process.cwd(), absolute);
  return path && path !== ".." && !path.startsWith(`..${sep}`) && !isAbsolute(path) ? path : absolute;
}

export interface LoadedFiles {
  documents: SourceDocument[];
  result: PolicySetResult;
}

/** Reads and checks the files; errors name each file as the caller named it. */
export function loadPolicyFiles(files: string[]): LoadedFiles {
  const documents: SourceDocument[] = [];
  const errors: PolicyError[] = [];
  for (const file of files) {
    const source = file;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      errors.push({ source, object: "file", path: "", message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? error})` });
      continue;
    }
    const loaded = loadYaml(source, text);
    documents.push(...loaded.documents);
    errors.push(...loaded.errors);
  }
  const result = parsePolicySet(documents);
  if (errors.length) return { documents, result: { ok: false, errors: [...errors, ...(result.ok ? [] : result.errors)] } };
  return { documents, result };
}

export function printErrors(errors: PolicyError[]): void {
  for (const error of errors) console.error(formatError(error));
  console.error(`${errors.length} error${errors.length === 1 ? "" : "s"}`);
}
