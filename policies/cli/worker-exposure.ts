/**
 * A Worker backend is meant to be reached through the mesh, over the gateway's service binding. If
 * its own wrangler config also publishes it (a `route`/`routes`, workers.dev, preview URLs), callers
 * can go around the mesh and every policy on it: warn, naming the backend, the config and the field.
 * The binding (Backend spec.worker.service) is mapped to its Worker by the gateway config's
 * [[services]]; the Worker's config is the one whose `name` (or an environment's) is that Worker's.
 * Node CLIs only: this reads files, and the gateway bundle never imports it.
 */
import { existsSync } from "node:fs";
import { qualifiedName } from "../qualified-name.ts";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { errorAt, type PolicyError } from "../errors.ts";
import type { PolicySet } from "../policy-set.ts";
import { displayPath, POLICY_DIR } from "./files.ts";
import { deploymentsOf, findWranglerConfigs, readWranglerConfig, serviceBindings, type WorkerDeployment, type WranglerConfig } from "./wrangler-configs.ts";

export interface WranglerOptions {
  /** The gateway's wrangler config (default: wrangler.toml at the repository's root). */
  gateway?: string;
  /** The Workers' configs; when none is named, they are searched for beside the gateway's (wrangler-configs.ts). */
  workers?: string[];
}

export interface ExposureReport {
  warnings: PolicyError[];
  /** What could not be checked, one line each: not a problem in the set, but worth saying. */
  notes: string[];
  /** A config named on the command line that cannot be read. */
  errors: string[];
}

export const WRANGLER_USAGE = "[--gateway <wrangler config>] [--wrangler <Worker's wrangler config>]…";

/** Splits a CLI's arguments into policy files and the wrangler options. */
export function parseCliArgs(argv: string[]): { files: string[]; wrangler: WranglerOptions } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { gateway: { type: "string" }, wrangler: { type: "string", multiple: true } },
  });
  return { files: positionals, wrangler: { gateway: values.gateway, workers: values.wrangler } };
}

const DEFAULT_GATEWAY = join(dirname(resolve(POLICY_DIR)), "wrangler.toml");

function exposures(deployment: WorkerDeployment): string[] {
  const { prefix, routes, routesField, workersDev, previewUrls } = deployment;
  const found: string[] = [];
  if (routes.length) found.push(`${routesField} gives it ${routes.length === 1 ? "a public route" : `${routes.length} public routes`} (${JSON.stringify(routes)}); remove ${routesField}`);
  if (workersDev === true) found.push(`${prefix}workers_dev = true publishes it at ${deployment.name}.<subdomain>.workers.dev; set ${prefix}workers_dev = false`);
  else if (workersDev === undefined && !routes.length) {
    found.push(`${prefix}workers_dev is not set, and wrangler's default is true when there are no routes, so it is published at ${deployment.name}.<subdomain>.workers.dev (and its preview URLs with it); set ${prefix}workers_dev = false`);
  }
  if (previewUrls === true) found.push(`${prefix}preview_urls = true publishes each version at <version>-${deployment.name}.<subdomain>.workers.dev; set ${prefix}preview_urls = false`);
  return found;
}

export function workerExposure(set: PolicySet, options: WranglerOptions = {}): ExposureReport {
  const report: ExposureReport = { warnings: [], notes: [], errors: [] };
  const workerBackends = set.backends.filter(({ value }) => value.spec.worker);
  if (!workerBackends.length) return report;
  const read = (file: string): WranglerConfig | undefined => {
    try {
      return readWranglerConfig(file);
    } catch (error) {
      report.errors.push(`${file}: cannot be read as a wrangler config (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      return undefined;
    }
  };
  const gatewayFile = options.gateway ?? displayPath(DEFAULT_GATEWAY);
  if (options.gateway === undefined && !existsSync(DEFAULT_GATEWAY)) {
    report.notes.push(`no gateway config at ${gatewayFile}: Worker backends were not checked for routes around the mesh (name it with --gateway)`);
    return report;
  }
  const gateway = read(gatewayFile);
  if (!gateway) return report;
  const configs = options.workers?.length
    ? options.workers.flatMap((file) => read(file) ?? [])
    : findWranglerConfigs(dirname(gatewayFile), displayPath).filter((config) => resolve(config.file) !== resolve(gatewayFile));
  const byName = new Map<string, WorkerDeployment[]>();
  for (const deployment of configs.flatMap(deploymentsOf)) byName.set(deployment.name, [...(byName.get(deployment.name) ?? []), deployment]);

  const bindings = serviceBindings(gateway);
  for (const { document, value: backend } of workerBackends) {
    const binding = backend.spec.worker!.service;
    const object = `Backend/${qualifiedName(backend.metadata.namespace, backend.metadata.name)}`;
    const service = bindings.get(binding);
    if (!service) {
      report.notes.push(`${object}: binding ${binding} is not among the [[services]] of ${gatewayFile}: its Worker's routes were not checked`);
      continue;
    }
    const deployments = byName.get(service);
    if (!deployments) {
      report.notes.push(`${object}: no wrangler config names Worker "${service}" (binding ${binding}): its routes were not checked (name its config with --wrangler)`);
      continue;
    }
    for (const deployment of deployments) {
      for (const exposure of exposures(deployment)) {
        const message = `Worker "${deployment.name}" (binding ${binding}) is reachable around the mesh (${deployment.config.file}): ${exposure}`;
        report.warnings.push(errorAt(document, ["spec", "worker", "service"], message));
      }
    }
  }
  return report;
}
