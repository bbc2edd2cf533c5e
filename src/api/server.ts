/**
 * The one HTTP server: the resource API, build verbs, webhooks, health and metrics.
 * The webhook endpoints are served in front of express (`serveWebhooksFirst`) with raw
 * bodies (signatures are verified over the exact bytes); the API takes JSON or YAML.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type Express, type Router } from 'express';
import type { SlipwayConfig } from '../core/config.js';
import { UnavailableError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { httpRequests, metricsRegistry } from '../core/metrics.js';
import type { Resource } from '../core/resource.js';
import type { BuildQueue } from '../queue/build-queue.js';
import type { BuildRequest } from '../queue/instantiate.js';
import type { BinaryInputStore } from '../store/binary-store.js';
import type { BuildLogStore } from '../store/build-logs.js';
import type { ResourceStore } from '../store/resource-store.js';
import { requireToken, type TokenStore } from './auth.js';
import { apiBody, singleQueryValues } from './body.js';
import { buildHooks } from './build-hooks.js';
import { buildRouter } from './builds.js';
import { errorMiddleware, sendStatus } from './errors.js';
import { eventsRouter } from './events.js';
import { resourceRouter } from './resources.js';
import { uiRouter } from './ui.js';
import { templateRouter } from './templates.js';
import { imageTagRouter, type ImageTagRoutesDeps } from './image-tags.js';
import { accessRouter } from './access-routes.js';
import type { NamespaceTeardown } from './project-deletion.js';
import type { AccessStore } from '../store/access.js';

export interface ServerDeps {
  config: SlipwayConfig;
  store: ResourceStore;
  logs: BuildLogStore;
  binaries: BinaryInputStore;
  queue: BuildQueue;
  tokens: TokenStore;
  /** Fires ImageChange triggers for a tag pointed at an image (`slipway tag`); without it there is no imagestreamtags endpoint. */
  dispatchImageChange?: ImageTagRoutesDeps['dispatchImageChange'];
  /** Users, projects and roles; without it, user tokens may do nothing. */
  access?: AccessStore;
  logger: Logger;
  instantiate: (namespace: string, buildConfig: string, request: BuildRequest) => Promise<Resource>;
  /**
   * Why the server is not ready (Redis not answering), or undefined when it is. Must
   * answer within about a second: /readyz waits for nothing longer.
   */
  notReady: () => Promise<string | undefined>;
  /**
   * Whether the Redis connection is up right now, answered without a round trip. API
   * requests made while it is down get a 503 at once instead of waiting on retries.
   */
  redisConnected?: () => boolean;
  /** What deleting a project does beyond its objects (src/api/project-deletion.ts). */
  teardown?: NamespaceTeardown;
  /** Routers that authenticate themselves, mounted before the API. */
  publicRouters?: Router[];
  /** Further API routers (deployments), mounted behind the bearer token. */
  apiRouters?: Router[];
}

const REDIS_DOWN = 'Redis is not answering; the API cannot read or store anything until it is back';

export function createApp(deps: ServerDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      httpRequests.inc({ method: req.method, route: String(route), code: String(res.statusCode) });
    });
    next();
  });

  app.get('/healthz', (_req, res) => void res.type('text/plain').send('ok'));
  app.get('/readyz', async (_req, res) => {
    const why = await deps.notReady().catch((err: unknown) => `the readiness check failed: ${String(err)}`);
    res
      .status(why === undefined ? 200 : 503)
      .type('text/plain')
      .send(why ?? 'ok');
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metricsRegistry.contentType).send(await metricsRegistry.metrics());
  });

  // While Redis is down nothing behind these paths can work: say so at once (503) rather
  // than after the client's retries have waited out ioredis' own.
  app.use((req, _res, next) => {
    if (/^\/(apis?|webhooks)\//.test(req.path) && deps.redisConnected && !deps.redisConnected())
      return next(new UnavailableError(REDIS_DOWN));
    next();
  });
  for (const router of deps.publicRouters ?? []) app.use(router);
  app.use(uiRouter());

  const api = express.Router();
  api.use(requireToken(deps.tokens, deps.access));
  api.use(singleQueryValues);
  // Binary uploads read their own body, with their own limit.
  api.use(apiBody({ skip: (path) => path.endsWith('/instantiatebinary') }));
  api.use(
    buildRouter({
      store: deps.store,
      queue: deps.queue,
      logs: deps.logs,
      binaries: deps.binaries,
      instantiate: deps.instantiate,
    }),
  );
  api.use(eventsRouter({ store: deps.store, config: deps.config, logger: deps.logger }));
  api.use(templateRouter());
  if (deps.dispatchImageChange)
    api.use(
      imageTagRouter({
        store: deps.store,
        registry: deps.config.registry,
        dispatchImageChange: deps.dispatchImageChange,
      }),
    );
  const hooks = buildHooks({
    store: deps.store,
    queue: deps.queue,
    logs: deps.logs,
    logger: deps.logger,
    instantiate: deps.instantiate,
  });
  if (deps.access)
    api.use(
      accessRouter({
        access: deps.access,
        store: deps.store,
        tokens: deps.tokens,
        hooks,
        ...(deps.teardown ? { teardown: deps.teardown } : {}),
      }),
    );
  for (const router of deps.apiRouters ?? []) api.use(router);
  api.use(
    resourceRouter({
      store: deps.store,
      allowFileSources: deps.config.allowFileSources,
      allowHostPaths: deps.config.allowHostPaths,
      hooks,
    }),
  );
  // Only /api and /apis need a token; anything else falls through to a plain 404.
  app.use((req, res, next) => (/^\/apis?\//.test(req.path) ? api(req, res, next) : next()));
  app.use((req, res) =>
    sendStatus(
      res,
      404,
      'NotFound',
      `the server could not find the requested resource: ${req.method} ${req.path}`,
    ),
  );
  app.use(errorMiddleware(deps.logger, deps.redisConnected ? { redisConnected: deps.redisConnected } : {}));
  return app;
}

/**
 * The server's request listener: webhook deliveries are served by `webhooks` (plain
 * node:http, src/api/webhook-routes.ts) before express sees them; everything else goes
 * to the express app. One port, one server.
 */
export function serveWebhooksFirst(
  webhooks: { handle(req: IncomingMessage, res: ServerResponse): boolean },
  app: Express,
): RequestListener {
  return (req, res) => {
    if (!webhooks.handle(req, res)) app(req, res);
  };
}
