/**
 * What the server tells the CLI about itself (`GET /apis/slipway.dev/v1/serverinfo`):
 * where the local router answers, and the public URL webhooks are reached on. A server
 * that does not serve it (an older one) gives nothing: callers fall back to the API URL.
 */
import { ApiError, type SlipwayClient } from './client.js';

export interface ServerInfo {
  /** SLIPWAY_PUBLIC_URL as the server has it. */
  publicUrl?: string;
  router?: { port: number; domain: string };
}

export async function serverInfo(c: SlipwayClient): Promise<ServerInfo> {
  try {
    const info = await c.json<Record<string, unknown>>('GET', '/apis/slipway.dev/v1/serverinfo');
    const out: ServerInfo = {};
    if (typeof info.publicUrl === 'string' && /^https?:\/\//.test(info.publicUrl))
      out.publicUrl = info.publicUrl;
    const router = info.router as { port?: unknown; domain?: unknown } | undefined;
    if (router && typeof router.port === 'number' && typeof router.domain === 'string')
      out.router = { port: router.port, domain: router.domain };
    return out;
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return {};
    throw err;
  }
}

/** OpenShift's default host of a Route without spec.host: `NAME-NAMESPACE.DOMAIN`. */
export function defaultRouteHost(name: string, namespace: string, domain: string): string {
  return `${name}-${namespace}.${domain}`;
}

/**
 * The URL a Route is served on by the local router, and, when its host has no DNS name
 * resolving to this machine (anything but `*.localhost`), a curl line that sends the Host
 * header to the router directly.
 */
export function routeUrls(options: {
  host: string;
  path?: string | undefined;
  routerPort: number | undefined;
  serverUrl: string;
}): { url: string; curl?: string } {
  const path = options.path ?? '/';
  const port = options.routerPort && options.routerPort !== 80 ? `:${options.routerPort}` : '';
  const url = `http://${options.host}${port}${path}`;
  if (/(^|\.)localhost$/i.test(options.host)) return { url };
  const routerHost = new URL(options.serverUrl).hostname;
  const hostPart = routerHost.includes(':') && !routerHost.startsWith('[') ? `[${routerHost}]` : routerHost;
  return { url, curl: `curl -H 'Host: ${options.host}' http://${hostPart}${port}${path}` };
}
