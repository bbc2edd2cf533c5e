/**
 * Live changes for the dashboard, as server-sent events:
 * `GET /apis/slipway.dev/v1/namespaces/{ns}/events` streams every change to the
 * namespace's build configs, builds, image streams, deployment configs, revisions,
 * services and routes (`event: ADDED|MODIFIED|DELETED`, `data: {"type","object"}`, `id:`
 * the resourceVersion). Secrets and templates are never streamed. The stream opens with
 * `event: SYNC`, sent once the subscription is live: a client that lists after SYNC and
 * keeps the newer resourceVersion of each object misses nothing (watch, then list).
 *
 * The same bearer token as every API call; EventSource cannot send headers, so the page
 * reads the stream with fetch(). `GET /apis/slipway.dev/v1/serverinfo` tells the page
 * where the local router answers, for Route links.
 */
import { Router, type Response } from 'express';
import { parseHostPort, type SlipwayConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { redactSourceUri } from '../core/redact.js';
import type { KindInfo } from '../core/resource.js';
import type { ResourceStore, WatchEvent } from '../store/resource-store.js';

/** The kinds the dashboard shows; nothing else leaves through the stream. */
export const STREAMED_KINDS: ReadonlySet<string> = new Set([
  'BuildConfig',
  'Build',
  'ImageStream',
  'DeploymentConfig',
  'ReplicationController',
  'Service',
  'Route',
]);

/** A comment line keeps proxies (and the browser) from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/** A client this far behind is cut off; it reconnects and lists afresh. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

type Listener = (event: WatchEvent, info: KindInfo) => void;

/**
 * One store subscription per server, shared by every open stream: opened with the first
 * stream, closed after the last, so an idle server holds no extra Redis connection.
 */
class WatchHub {
  private readonly listeners = new Set<Listener>();
  private unwatch: Promise<() => Promise<void>> | undefined;

  constructor(
    private readonly store: ResourceStore,
    private readonly logger: Logger,
  ) {}

  async add(listener: Listener): Promise<void> {
    this.listeners.add(listener);
    if (!this.unwatch) {
      this.unwatch = this.store.watch((event, info) => {
        for (const l of this.listeners) l(event, info);
      });
      this.unwatch.catch(() => (this.unwatch = undefined));
    }
    await this.unwatch;
  }

  remove(listener: Listener): void {
    this.listeners.delete(listener);
    if (this.listeners.size > 0 || !this.unwatch) return;
    const closing = this.unwatch;
    this.unwatch = undefined;
    closing
      .then((stop) => stop())
      .catch((err: unknown) => this.logger.warn({ err }, 'closing the event stream subscription failed'));
  }
}

function send(res: Response, event: string, data: unknown, id?: string): void {
  // JSON.stringify escapes CR and LF, the only line ends in an event stream.
  res.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export function eventsRouter(deps: { store: ResourceStore; config: SlipwayConfig; logger: Logger }): Router {
  const hub = new WatchHub(deps.store, deps.logger);
  const router = Router();

  router.get('/apis/slipway.dev/v1/serverinfo', (_req, res) => {
    const { port } = parseHostPort(deps.config.routerListen);
    res.json({
      kind: 'ServerInfo',
      apiVersion: 'slipway.dev/v1',
      // Routes answer on the local router: `http://{route host}:{port}{path}`.
      router: { port, domain: deps.config.routerDomain },
      // Where webhooks reach this server from outside (SLIPWAY_PUBLIC_URL), for the URLs the CLI prints.
      ...(deps.config.publicUrl ? { publicUrl: deps.config.publicUrl } : {}),
    });
  });

  router.get('/apis/slipway.dev/v1/namespaces/:ns/events', async (req, res) => {
    const ns = req.params.ns;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      // Tells nginx-style proxies not to buffer the stream.
      'X-Accel-Buffering': 'no',
    });
    const listener: Listener = (event, info) => {
      if (event.object.metadata.namespace !== ns || !STREAMED_KINDS.has(info.kind)) return;
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.end();
        return;
      }
      send(
        res,
        event.type,
        { type: event.type, object: redactSourceUri(event.object) },
        event.object.metadata.resourceVersion,
      );
    };
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    const closed = new Promise<void>((resolve) => res.on('close', resolve));
    void closed.then(() => {
      clearInterval(heartbeat);
      hub.remove(listener);
    });
    try {
      await hub.add(listener);
    } catch (err) {
      deps.logger.warn({ err }, 'could not subscribe to changes for an event stream');
      res.end();
      return;
    }
    res.write('retry: 2000\n');
    send(res, 'SYNC', { namespace: ns });
    await closed;
  });

  return router;
}
