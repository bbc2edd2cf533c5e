/**
 * The one HTTP server: the resource API, build verbs, webhooks, health and metrics.
 * Webhook routes get raw bodies (signatures are verified over the exact bytes); the API
 * takes JSON or YAML.
 */
import express, { type Express, type RequestHandler, type Router } from 'express';
import { parseAllDocuments } from 'yaml';
import type { SlipwayConfig } from '../core/config.js';
import { InputError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { httpRequests, metricsRegistry } from '../core/metrics.js';
import type { Resource } from '../core/resource.js';
import type { BuildQueue } from '../queue/build-queue.js';
import type { BuildRequest } from '../queue/instantiate.js';
import type { BinaryInputStore } from '../store/binary-store.js';
import type { BuildLogStore } from '../store/build-logs.js';
import type { ResourceStore } from '../store/resource-store.js';
import { requireToken, type TokenStore } from './auth.js';
import { buildHooks } from './build-hooks.js';
import { buildRouter } from './builds.js';
import { errorMiddleware, sendStatus } from './errors.js';
import { resourceRouter } from './resources.js';
import { uiRouter } from './ui.js';

export interface ServerDeps {
  config: SlipwayConfig;
  store: ResourceStore;
  logs: BuildLogStore;
  binaries: BinaryInputStore;
  queue: BuildQueue;
  tokens: TokenStore;
  logger: Logger;
  instantiate: (namespace: string, buildConfig: string, request: BuildRequest) => Promise<Resource>;
  /** Answers true when Redis answers. */
  ready: () => Promise<boolean>;
  /** Routers that authenticate themselves (webhooks), mounted with raw bodies before the API. */
  publicRouters?: Router[];
  /** Further API routers (deployments), mounted behind the bearer token. */
  apiRouters?: Router[];
}

/** Parses `application/yaml` request bodies (one document) for the API. */
const yamlBody: RequestHandler = (req, _res, next) => {
  if (!/yaml/.test(req.headers['content-type'] ?? '')) return next();
  let text = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (text += c));
  req.on('end', () => {
    const docs = parseAllDocuments(text);
    const first = Array.isArray(docs) ? docs[0] : undefined;
    if (!first || first.errors.length > 0) {
      return next(
        new InputError(`the request body is not valid YAML: ${first?.errors[0]?.message ?? 'empty'}`, {
          code: 400,
        }),
      );
    }
    req.body = first.toJS() as unknown;
    next();
  });
};

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
    const ok = await deps.ready().catch(() => false);
    res
      .status(ok ? 200 : 503)
      .type('text/plain')
      .send(ok ? 'ok' : 'redis is not answering');
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metricsRegistry.contentType).send(await metricsRegistry.metrics());
  });

  for (const router of deps.publicRouters ?? []) app.use(router);
  app.use(uiRouter());

  const api = express.Router();
  api.use(requireToken(deps.tokens));
  api.use(express.json({ limit: '5mb', type: ['application/json', 'application/*+json'] }));
  api.use(yamlBody);
  api.use(
    buildRouter({
      store: deps.store,
      queue: deps.queue,
      logs: deps.logs,
      binaries: deps.binaries,
      instantiate: deps.instantiate,
    }),
  );
  for (const router of deps.apiRouters ?? []) api.use(router);
  api.use(
    resourceRouter({
      store: deps.store,
      allowFileSources: deps.config.allowFileSources,
      allowHostPaths: deps.config.allowHostPaths,
      hooks: buildHooks({
        store: deps.store,
        queue: deps.queue,
        logs: deps.logs,
        logger: deps.logger,
        instantiate: deps.instantiate,
      }),
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
  app.use(errorMiddleware(deps.logger));
  return app;
}
