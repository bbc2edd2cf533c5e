/**
 * The local target's router: one HTTP port (`routerListen`) in front of every replica.
 * A request's Host header picks a Route (longest matching `spec.path` wins), the Route
 * names a Service, and the Service's selector picks the ready, non-draining replicas of
 * its namespace, whose loopback host ports the request is proxied to, round robin.
 * Because a replica leaves this table before it is stopped (draining), a Rolling rollout
 * drops no request. A connection refused before any byte was sent is retried on another
 * replica when the request has no body, as HAProxy's `option redispatch` does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ProxyServer } from 'http-proxy-3';
import type { PortRef, RouteSpec, ServiceSpec } from '../core/deploy-types.js';
import type { Logger } from '../core/logger.js';
import { lookupKind, type Resource } from '../core/resource.js';
import type { ResourceStore } from '../store/resource-store.js';
import { selectorMatches, type ReplicaState, type ReplicaStateStore } from './docker/replica-state.js';

const ROUTE = lookupKind('route.openshift.io/v1', 'Route')!;
const SERVICE = lookupKind('v1', 'Service')!;

/** OpenShift's default host for a Route without one: `{name}-{namespace}.{domain}`. */
export function defaultRouteHost(route: Pick<Resource, 'metadata'>, domain: string): string {
  return `${route.metadata.name}-${route.metadata.namespace ?? 'default'}.${domain}`;
}

export interface RoutingTable {
  routes: Resource[];
  services: Resource[];
  replicas: ReplicaState[];
  draining: Set<string>;
  domain: string;
}

export type Backends =
  { ok: true; route: string; ports: number[] } | { ok: false; code: 404 | 503; message: string };

function resolveTargetPort(service: ServiceSpec, routePort: PortRef | undefined): PortRef | undefined {
  const ports = service.ports;
  if (routePort === undefined) return ports[0]?.targetPort ?? ports[0]?.port;
  // A Route's targetPort names a Service port (by name) or a target port (by number), as OpenShift reads it.
  const match = ports.find(
    (p) =>
      p.name === routePort ||
      p.targetPort === routePort ||
      (p.targetPort === undefined && p.port === routePort),
  );
  return match ? (match.targetPort ?? match.port) : routePort;
}

/** Pure: which replica host ports serve `host` + `path`. */
export function pickBackends(table: RoutingTable, host: string, path: string): Backends {
  const h = host.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  const candidates = table.routes
    .map((r) => ({ r, spec: r.spec as RouteSpec }))
    .filter(({ r, spec }) => (spec.host ? spec.host.toLowerCase() : defaultRouteHost(r, table.domain)) === h)
    .filter(({ spec }) => {
      const p = spec.path ?? '/';
      return (
        p === '/' || path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`) || path.startsWith(`${p}?`)
      );
    })
    .sort((a, b) => (b.spec.path ?? '/').length - (a.spec.path ?? '/').length);
  const chosen = candidates[0];
  if (!chosen) return { ok: false, code: 404, message: `no Route serves host "${h}"` };
  const ns = chosen.r.metadata.namespace ?? 'default';
  const routeName = `${ns}/${chosen.r.metadata.name}`;
  const service = table.services.find(
    (s) => s.metadata.namespace === ns && s.metadata.name === chosen.spec.to.name,
  );
  if (!service)
    return {
      ok: false,
      code: 503,
      message: `Route ${routeName} points at Service "${chosen.spec.to.name}", which does not exist`,
    };
  const svc = service.spec as ServiceSpec;
  const targetPort = resolveTargetPort(svc, chosen.spec.port?.targetPort);
  const ports: number[] = [];
  for (const r of table.replicas) {
    if (r.namespace !== ns || !r.running || !r.ready || table.draining.has(r.id)) continue;
    if (!selectorMatches(svc.selector, r.podLabels)) continue;
    const containerPort =
      typeof targetPort === 'number'
        ? targetPort
        : targetPort === undefined
          ? undefined
          : r.portNames[targetPort];
    const hostPort = containerPort === undefined ? undefined : r.ports[String(containerPort)];
    if (hostPort) ports.push(hostPort);
  }
  if (ports.length === 0)
    return { ok: false, code: 503, message: `Service ${ns}/${service.metadata.name} has no ready replicas` };
  return { ok: true, route: routeName, ports: ports.sort((a, b) => a - b) };
}

export interface RouterOptions {
  store: ResourceStore;
  states: ReplicaStateStore;
  logger: Logger;
  host: string;
  port: number;
  /** Domain of default Route hosts. */
  domain: string;
  /** How often replica readiness is re-read; drain delays must exceed it. */
  refreshMs?: number;
}

export interface RouterHandle {
  url: string;
  server: Server;
  /** Re-reads Routes, Services and replicas now (tests, after applying a Route). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

function sendError(res: ServerResponse, code: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
  res.end(`${code === 503 ? 'Application is not available' : 'Not found'}: ${message}\n`);
}

const RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

/** Starts the router; resolves once it listens. */
export async function startRouter(options: RouterOptions): Promise<RouterHandle> {
  const { store, states, logger } = options;
  const table: RoutingTable = {
    routes: [],
    services: [],
    replicas: [],
    draining: new Set(),
    domain: options.domain,
  };
  const proxy = new ProxyServer({ xfwd: true, proxyTimeout: 60000 });
  const cursor = new Map<string, number>();

  const refreshReplicas = async (): Promise<void> => {
    const [replicas, draining] = await Promise.all([states.list(), states.draining()]);
    table.replicas = replicas;
    table.draining = draining;
  };
  const refreshConfig = async (): Promise<void> => {
    const [routes, services] = await Promise.all([store.list(ROUTE), store.list(SERVICE)]);
    table.routes = routes;
    table.services = services;
  };
  const refresh = async (): Promise<void> => {
    await Promise.all([refreshReplicas(), refreshConfig()]);
  };
  await refresh();
  let stopped = false;
  const every = (ms: number, fn: () => Promise<void>): NodeJS.Timeout => {
    const timer: NodeJS.Timeout = setInterval(() => {
      if (!stopped) void fn().catch((err: unknown) => logger.warn({ err }, 'router refresh failed'));
    }, ms);
    return timer;
  };
  const timers = [every(options.refreshMs ?? 200, refreshReplicas), every(1000, refreshConfig)];

  const choose = (route: string, ports: number[], avoid: Set<number>): number | undefined => {
    const usable = ports.filter((p) => !avoid.has(p));
    if (usable.length === 0) return undefined;
    const n = cursor.get(route) ?? 0;
    cursor.set(route, n + 1);
    return usable[n % usable.length];
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const backends = pickBackends(table, req.headers.host ?? '', req.url ?? '/');
    if (!backends.ok) return sendError(res, backends.code, backends.message);
    const bodiless =
      req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
    const tried = new Set<number>();
    const attempt = (): void => {
      const port = choose(backends.route, backends.ports, tried);
      if (port === undefined)
        return sendError(res, 503, `every replica of ${backends.route} refused the connection`);
      tried.add(port);
      proxy.web(req, res, { target: { host: '127.0.0.1', port } }, (err: Error) => {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (bodiless && !res.headersSent && RETRYABLE.has(code) && tried.size < 3) return attempt();
        logger.debug({ err, port, route: backends.route }, 'proxy error');
        sendError(res, 502, `the replica on port ${port} failed: ${err.message}`);
      });
    };
    attempt();
  };

  const server = createServer(handle);
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const backends = pickBackends(table, req.headers.host ?? '', req.url ?? '/');
    const port = backends.ok ? choose(backends.route, backends.ports, new Set()) : undefined;
    if (port === undefined) return void socket.destroy();
    proxy.ws(req, socket, head, { target: { host: '127.0.0.1', port } }, () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const addr = server.address();
  const port = addr && typeof addr === 'object' ? addr.port : options.port;
  return {
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    server,
    refresh,
    close: async () => {
      stopped = true;
      for (const t of timers) clearInterval(t);
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      proxy.close();
    },
  };
}
