/**
 * `slipway expose svc/NAME [--hostname H] [--path P] [--name N]`, as `oc expose`: a Route
 * to the Service, and the URL the local router serves it on.
 */
import type { Command } from 'commander';
import type { ServiceSpec } from '../core/deploy-types.js';
import {
  DNS1123_LABEL,
  DNS1123_SUBDOMAIN,
  lookupKind,
  resourcePath,
  type Resource,
} from '../core/resource.js';
import { ApiError, type SlipwayClient } from './client.js';
import { defaultRouteHost, routeUrls, serverInfo } from './server-info.js';

const SERVICE = lookupKind('v1', 'Service')!;
const ROUTE = lookupKind('route.openshift.io/v1', 'Route')!;

function fail(message: string): never {
  throw new ApiError(0, `error: ${message}`);
}

/** `svc/web`, `service/web`, `services/web` → `web`; anything else is refused. */
export function serviceName(target: string): string {
  const m = /^(svc|service|services)\/(.+)$/.exec(target);
  if (!m)
    fail(
      `"${target}" is not svc/NAME: expose makes a Route to a Service (new-app made one with the app's name)`,
    );
  if (!DNS1123_LABEL.test(m[2]!)) fail(`"${m[2]}" is not a valid Service name`);
  return m[2]!;
}

/** Pure: the Route `expose` makes for a Service. */
export function routeFor(
  service: Resource,
  options: { name?: string | undefined; hostname?: string | undefined; path?: string | undefined },
): Resource {
  const spec = (service.spec ?? {}) as Partial<ServiceSpec>;
  const first = spec.ports?.[0];
  return {
    apiVersion: 'route.openshift.io/v1',
    kind: 'Route',
    metadata: {
      name: options.name ?? service.metadata.name,
      ...(service.metadata.labels ? { labels: service.metadata.labels } : {}),
    },
    spec: {
      ...(options.hostname ? { host: options.hostname } : {}),
      ...(options.path ? { path: options.path } : {}),
      to: { kind: 'Service', name: service.metadata.name, weight: 100 },
      // As oc: the Service's first port, by name when it has one.
      ...(first ? { port: { targetPort: first.name ?? first.targetPort ?? first.port } } : {}),
    },
  };
}

export function registerExposeCommands(
  program: Command,
  client: () => SlipwayClient,
  namespace: () => string,
): void {
  program
    .command('expose')
    .description('make a Route to a Service, served by the router: expose svc/NAME')
    .argument('<service>', 'svc/NAME')
    .option('--hostname <host>', 'the host the Route answers to (default: NAME-NAMESPACE.<router domain>)')
    .option('--path <path>', 'serve only this path and below')
    .option('--name <name>', 'name of the Route (default: the Service name)')
    .action(async (target: string, opts: { hostname?: string; path?: string; name?: string }) => {
      const name = serviceName(target);
      if (
        opts.hostname !== undefined &&
        (!DNS1123_SUBDOMAIN.test(opts.hostname) || opts.hostname.length > 253)
      )
        fail(`--hostname "${opts.hostname}" is not a host name (lower case letters, digits, "-" and ".")`);
      if (opts.path !== undefined && !/^\/[\w./~%-]*$/.test(opts.path))
        fail(`--path "${opts.path}" must start with "/" and hold only URL path characters`);
      if (opts.name !== undefined && !DNS1123_LABEL.test(opts.name))
        fail(`--name "${opts.name}" must be lower case letters, digits and "-"`);
      const c = client();
      const ns = namespace();
      const service = await c.get(SERVICE, ns, name);
      if (!service) fail(`services "${name}" not found in namespace "${ns}"`);
      const route = routeFor(service, opts);
      if (await c.get(ROUTE, ns, route.metadata.name))
        fail(`routes.route.openshift.io "${route.metadata.name}" already exists`);
      const created = await c.json('POST', resourcePath(ROUTE, ns), route);
      console.log(`route.route.openshift.io/${created.metadata.name} exposed`);
      const info = await serverInfo(c);
      const host =
        opts.hostname ??
        (info.router ? defaultRouteHost(created.metadata.name, ns, info.router.domain) : undefined);
      if (!host || !info.router) {
        console.log(
          '  The router of this server is not known to the CLI; the Route answers to its host on the router.',
        );
        return;
      }
      const urls = routeUrls({ host, path: opts.path, routerPort: info.router.port, serverUrl: c.server });
      console.log(`  ${urls.url}`);
      if (urls.curl) console.log(`  No DNS for ${host}? Send the Host header to the router: ${urls.curl}`);
    });
}
