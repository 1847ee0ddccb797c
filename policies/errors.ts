/**
 * Policy errors are part of the interface: each names the file, the object, the path to the field
 * and what was expected, as `routes.yaml:14:9: HTTPRoute/reviews spec.rules[1].backendRefs[0].weight: …`.
 * Tests pin this text.
 */
export type FieldPath = ReadonlyArray<PropertyKey>;

export interface SourceDocument {
  /** The file (or "request body") the document came from. */
  source: string;
  /** 0-based position of the document within its source. */
  index: number;
  value: unknown;
  /** Line and column of a field, where the source has them (YAML files do; JSON bodies do not). */
  locate?: (path: FieldPath) => { line: number; column: number } | undefined;
}

export interface PolicyError {
  source: string;
  line?: number;
  column?: number;
  /** "HTTPRoute/reviews", or "document 3" when the document has no usable kind and name. */
  object: string;
  path: string;
  message: string;
}

export function formatPath(path: FieldPath): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else text += text ? `.${String(key)}` : String(key);
  }
  return text;
}

export function formatError(error: PolicyError): string {
  const where = error.line === undefined ? error.source : `${error.source}:${error.line}:${error.column}`;
  const field = error.path ? ` ${error.path}` : "";
  return `${where}: ${error.object}${field}: ${error.message}`;
}

/** How an object is named in errors: `Kind/name`, with the namespace only when it is not "default". */
export function describeObject(document: SourceDocument): string {
  const value = document.value as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
  const kind = typeof value?.kind === "string" ? value.kind : undefined;
  const name = typeof value?.metadata?.name === "string" ? value.metadata.name : undefined;
  if (!kind || !name) return `document ${document.index + 1}${kind ? ` (${kind})` : ""}`;
  const namespace = value?.metadata?.namespace;
  return typeof namespace === "string" && namespace !== "default" ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

export function errorAt(document: SourceDocument, path: FieldPath, message: string): PolicyError {
  const position = document.locate?.(path);
  return {
    source: document.source,
    ...(position && { line: position.line, column: position.column }),
    object: describeObject(document),
    path: formatPath(path),
    message,
  };
}
