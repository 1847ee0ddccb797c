/** Reads multi-document YAML into SourceDocuments that can say where each field is (line and column). */
import { LineCounter, parseAllDocuments } from "yaml";
import type { FieldPath, PolicyError, SourceDocument } from "./errors.ts";

export interface LoadedYaml {
  documents: SourceDocument[];
  errors: PolicyError[];
}

export function loadYaml(source: string, text: string): LoadedYaml {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const documents: SourceDocument[] = [];
  const errors: PolicyError[] = [];
  const all = Array.isArray(parsed) ? parsed : [];
  all.forEach((doc, index) => {
    for (const problem of doc.errors) {
      const { line, col } = lineCounter.linePos(problem.pos[0]);
      errors.push({ source, line, column: col, object: `document ${index + 1}`, path: "", message: `invalid YAML: ${firstLine(problem.message)}` });
    }
    if (doc.errors.length || doc.contents === null) return;
    const locate = (path: FieldPath) => {
      for (let depth = path.length; depth >= 0; depth--) {
        const node = doc.getIn(path.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
        if (node?.range) {
          const { line, col } = lineCounter.linePos(node.range[0]);
          return { line, column: col };
        }
      }
      return undefined;
    };
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // An unresolved alias or an alias bomb: report it like any other YAML error.
      errors.push({ source, object: `document ${index + 1}`, path: "", message: `invalid YAML: ${firstLine((error as Error).message)}` });
      return;
    }
    documents.push({ source, index, value, locate });
  });
  return { documents, errors };
}

const firstLine = (message: string) => message.split("\n")[0]!;
