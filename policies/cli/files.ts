/** Finds and reads policy files for the CLIs: the named ones, or every YAML file in policies/. */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { formatError, type PolicyError, type SourceDocument } from "../errors.ts";
import { parsePolicySet, type PolicySetResult } from "../policy-set.ts";
import { loadYaml } from "../yaml.ts";

export const POLICY_DIR = new URL("..", import.meta.url).pathname;

export function defaultPolicyFiles(): string[] {
  return readdirSync(POLICY_DIR)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => join(POLICY_DIR, name));
}

export interface LoadedFiles {
  documents: SourceDocument[];
  result: PolicySetResult;
}

export function loadPolicyFiles(files: string[]): LoadedFiles {
  const documents: SourceDocument[] = [];
  const errors: PolicyError[] = [];
  for (const file of files) {
    const source = relative(process.cwd(), file) || file;
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
