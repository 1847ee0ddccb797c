/**
 * Route attachment, as the Gateway API defines it: an HTTPRoute attaches through its parentRefs to
 * the listeners of Gateways that allow it, and serves the intersection of its hostnames with each
 * listener's. Without any Gateway in the policies, every route attaches to one implicit listener that
 * takes every hostname. Shared by validation (errors, warnings) and the routing table (hostnames).
 */
import type { FieldPath } from "./errors.ts";
import type { Gateway, HTTPRoute, Listener } from "./schema/index.ts";

export interface AttachmentProblem {
  /** An error fails validation; a warning (a route or parentRef that attaches nowhere) does not. */
  severity: "error" | "warning";
  path: FieldPath;
  message: string;
}

export interface Attachment {
  /** The hostnames the route serves; `undefined` stands for every hostname. Empty: not attached. */
  hostnames: (string | undefined)[];
  problems: AttachmentProblem[];
}

/** Whether `host` (a hostname or a wildcard) falls under the wildcard `pattern` ("*.a.com" takes "x.a.com", "*.x.a.com"). */
const under = (host: string, pattern: string) => pattern.startsWith("*.") && host.endsWith(pattern.slice(1));

/** The Gateway API's intersection of a listener's hostname and a route's: the more specific, when one covers the other. */
export function intersectHostnames(listener: string, route: string): string | undefined {
  if (listener === route || under(route, listener)) return route;
  if (under(listener, route)) return listener;
  return undefined;
}

/** The route's hostnames on one listener: the route's, the listener's, or those both allow; `used` collects the route's that count. */
function hostnamesOn(listener: Listener, routeHostnames: readonly string[], used: Set<number>): (string | undefined)[] {
  if (!listener.hostname) {
    routeHostnames.forEach((_, h) => used.add(h));
    return routeHostnames.length ? [...routeHostnames] : [undefined];
  }
  if (!routeHostnames.length) return [listener.hostname];
  return routeHostnames.flatMap((hostname, h) => {
    const both = intersectHostnames(listener.hostname!, hostname);
    if (both === undefined) return [];
    used.add(h);
    return [both];
  });
}

export function attachRoute(route: HTTPRoute, gateways: readonly Gateway[]): Attachment {
  const routeHostnames = route.spec.hostnames ?? [];
  const parentRefs = route.spec.parentRefs ?? [];
  const problems: AttachmentProblem[] = [];
  const hostnames = new Set<string | undefined>();
  const used = new Set<number>();
  if (!gateways.length && !parentRefs.length) return { hostnames: routeHostnames.length ? [...routeHostnames] : [undefined], problems };
  if (!parentRefs.length) {
    const declared = gateways.map((gateway) => `Gateway/${gateway.metadata.name}`).join(", ");
    problems.push({ severity: "warning", path: ["spec", "parentRefs"], message: `is not set, so the route attaches to no Gateway (the policies declare ${declared})` });
  }
  parentRefs.forEach((ref, p) => {
    const namespace = ref.namespace ?? route.metadata.namespace;
    const gateway = gateways.find((candidate) => candidate.metadata.name === ref.name && candidate.metadata.namespace === namespace);
    if (!gateway) return problems.push({ severity: "error", path: ["spec", "parentRefs", p, "name"], message: `refers to unknown Gateway "${ref.name}"` });
    let listeners = gateway.spec.listeners;
    if (ref.sectionName !== undefined) {
      listeners = listeners.filter((listener) => listener.name === ref.sectionName);
      if (!listeners.length) {
        return problems.push({ severity: "error", path: ["spec", "parentRefs", p, "sectionName"], message: `Gateway "${ref.name}" has no listener "${ref.sectionName}"` });
      }
    }
    if (ref.port !== undefined) {
      listeners = listeners.filter((listener) => listener.port === ref.port);
      if (!listeners.length) {
        const which = ref.sectionName === undefined ? "no listener" : `no listener "${ref.sectionName}"`;
        return problems.push({ severity: "error", path: ["spec", "parentRefs", p, "port"], message: `Gateway "${ref.name}" has ${which} on port ${ref.port}` });
      }
    }
    const refused: string[] = [];
    let attached = false;
    for (const listener of listeners) {
      const from = listener.allowedRoutes?.namespaces?.from ?? "Same";
      if (from === "Same" && namespace !== route.metadata.namespace) {
        refused.push(`listener "${listener.name}" takes routes from namespace "${namespace}" only`);
        continue;
      }
      const served = hostnamesOn(listener, routeHostnames, used);
      if (!served.length) {
        refused.push(`listener "${listener.name}" (${listener.hostname}) shares no hostname with the route`);
        continue;
      }
      attached = true;
      for (const hostname of served) hostnames.add(hostname);
    }
    if (!attached) {
      problems.push({ severity: "warning", path: ["spec", "parentRefs", p], message: `attaches to no listener of Gateway "${ref.name}": ${refused.join("; ")}` });
    }
  });
  // The Gateway API ignores a route's hostnames that none of its listeners take: say so.
  if (hostnames.size) {
    routeHostnames.forEach((hostname, h) => {
      if (!used.has(h)) problems.push({ severity: "warning", path: ["spec", "hostnames", h], message: "is served by no listener the route attaches to" });
    });
  }
  return { hostnames: [...hostnames], problems };
}
