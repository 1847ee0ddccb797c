/**
 * Wrangler configuration files, read for the Node CLIs only (validate, bundle; never the gateway
 * bundle): TOML (smol-toml), JSON and JSONC (jsonc-parser), and where to find them. A Worker is known
 * by the `name` of its config, and each `[env.<e>]` is one more Worker, named `env.<e>.name` or
 * `<name>-<e>` as wrangler names it; routes, workers_dev and preview_urls are inherited from the top
 * level when an environment leaves them out, as wrangler does.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseJsonc, printParseErrorCode, type ParseError } from "jsonc-parser";
import { parse as parseToml } from "smol-toml";

type Table = Record<string, unknown>;

export interface WranglerConfig {
  /** As the user named it (or as found, relative to the working directory when inside it). */
  file: string;
  value: Table;
}

/** One deployable Worker of a config: the top level or one environment. */
export interface WorkerDeployment {
  name: string;
  config: WranglerConfig;
  /** "" for the top level, else "env.<e>." (the prefix of its fields in messages). */
  prefix: string;
  routes: unknown[];
  routesField: string;
  workersDev: boolean | undefined;
  previewUrls: boolean | undefined;
}

const isTable = (value: unknown): value is Table => typeof value === "object" && value !== null && !Array.isArray(value);

/** Parses one config by its extension; throws with the reason when it is not one. */
export function readWranglerConfig(file: string): WranglerConfig {
  const text = readFileSync(file, "utf8");
  let value: unknown;
  if (/\.jsonc?$/.test(file)) {
    const errors: ParseError[] = [];
    value = parseJsonc(text, errors, { allowTrailingComma: true });
    if (errors.length) throw new Error(`${printParseErrorCode(errors[0]!.error)} at offset ${errors[0]!.offset}`);
  } else {
    value = parseToml(text);
  }
  if (!isTable(value)) throw new Error("is not a table of settings");
  return { file, value };
}

const SKIPPED_DIRS = new Set(["node_modules", "dist", "build", "coverage"]);
const MAX_DEPTH = 4;

/**
 * Wrangler configs under `root`: wrangler.json, wrangler.jsonc and every *.toml, at most four
 * directories deep, not in node_modules, dist, build, coverage or any dot-directory. A file that
 * does not parse, or has no `name`, is not a Worker's config and is passed over.
 */
export function findWranglerConfigs(root: string, display: (path: string) => string): WranglerConfig[] {
  const found: WranglerConfig[] = [];
  const walk = (dir: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (depth < MAX_DEPTH && !entry.name.startsWith(".") && !SKIPPED_DIRS.has(entry.name)) walk(path, depth + 1);
      } else if (entry.isFile() && (/\.toml$/.test(entry.name) || /^wrangler\.jsonc?$/.test(entry.name))) {
        try {
          const config = readWranglerConfig(path);
          if (typeof config.value.name === "string") found.push({ ...config, file: display(path) });
        } catch {
          // Not a wrangler config (another tool's TOML, or broken): not ours to judge.
        }
      }
    }
  };
  walk(resolve(root), 0);
  return found;
}

function routesOf(table: Table): { routes: unknown[]; field: string } | undefined {
  if (Array.isArray(table.routes)) return { routes: table.routes, field: "routes" };
  if (table.route !== undefined) return { routes: [table.route], field: "route" };
  return undefined;
}

const bool = (value: unknown) => (typeof value === "boolean" ? value : undefined);

/** The Workers a config deploys: its top level and each environment. */
export function deploymentsOf(config: WranglerConfig): WorkerDeployment[] {
  const top = config.value;
  const name = top.name;
  if (typeof name !== "string") return [];
  const topRoutes = routesOf(top);
  const deployments: WorkerDeployment[] = [
    { name, config, prefix: "", routes: topRoutes?.routes ?? [], routesField: topRoutes?.field ?? "routes", workersDev: bool(top.workers_dev), previewUrls: bool(top.preview_urls) },
  ];
  const envs = isTable(top.env) ? top.env : {};
  for (const [env, raw] of Object.entries(envs)) {
    if (!isTable(raw)) continue;
    const prefix = `env.${env}.`;
    const own = routesOf(raw);
    const routes = own ?? topRoutes;
    deployments.push({
      name: typeof raw.name === "string" ? raw.name : `${name}-${env}`,
      config,
      prefix,
      routes: routes?.routes ?? [],
      routesField: own ? `${prefix}${own.field}` : (topRoutes?.field ?? "routes"),
      workersDev: bool(raw.workers_dev) ?? bool(top.workers_dev),
      previewUrls: bool(raw.preview_urls) ?? bool(top.preview_urls),
    });
  }
  return deployments;
}

/** The gateway config's service bindings at the top level: binding name → Worker (service) name. */
export function serviceBindings(config: WranglerConfig): Map<string, string> {
  const bindings = new Map<string, string>();
  const services = config.value.services;
  if (!Array.isArray(services)) return bindings;
  for (const service of services) {
    if (isTable(service) && typeof service.binding === "string" && typeof service.service === "string") bindings.set(service.binding, service.service);
  }
  return bindings;
}
