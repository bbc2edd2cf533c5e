/**
 * The webhook endpoints: thin express wrappers. Each reads the raw body (signatures are
 * computed over the exact bytes), hands it to the runtime-neutral delivery module
 * (src/webhooks/delivery.ts: claim, start builds, release, answer), counts the outcome
 * and sends the answer. Nothing builds here; GitHub gives up on a hook after 10 s
 * (https://docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks#respond-within-10-seconds).
 *
 * Mounted before the token-checked API: these authenticate by secret, signature or
 * the registry's bearer token.
 */
import express, {
  Router,
  type ErrorRequestHandler,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import type { SlipwayConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { webhookDeliveries } from '../core/metrics.js';
import type { Resource } from '../core/resource.js';
import type { BuildRequest } from '../queue/instantiate.js';
import type { DeliveryClaims } from '../store/delivery-claims.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { BuildConfigIndex } from '../triggers/buildconfig-index.js';
import type { ImageChangeOutcome } from '../triggers/image-change-dispatch.js';
import type { ImageStreamTagUpdate } from '../triggers/image-change.js';
import {
  deliverBuildConfigHook,
  deliverGitHubOrgHook,
  deliverRegistryNotification,
  type DeliveryAnswer,
  type DeliveryOutcome,
} from '../webhooks/delivery.js';
import {
  createGitHubOrgReceiver,
  MAX_WEBHOOK_BODY_BYTES,
  toStatusObject,
  WEBHOOK_TYPES,
  type WebhookReply,
  type WebhookRequest,
} from '../webhooks/index.js';
import { reply } from '../webhooks/request.js';

/** OpenShift's per-BuildConfig webhook URL. */
export const BUILDCONFIG_WEBHOOK_PATH =
  '/apis/build.openshift.io/v1/namespaces/:ns/buildconfigs/:name/webhooks/:secret/:type';
export const GITHUB_ORG_WEBHOOK_PATH = '/webhooks/github';
export const REGISTRY_WEBHOOK_PATH = '/webhooks/registry';

export interface WebhookRoutesDeps {
  config: Pick<SlipwayConfig, 'githubSecret' | 'registryNotifyToken'>;
  store: ResourceStore;
  claims: DeliveryClaims;
  /** BuildConfigs by repository, for the org endpoint. */
  index: BuildConfigIndex;
  /** How builds start (the runtime's instantiate, with run policies). */
  instantiate: (namespace: string, buildConfig: string, request: BuildRequest) => Promise<Resource>;
  /** Fires the ImageChange triggers of a tag update (src/triggers/image-change-dispatch.ts). */
  dispatchImageChange: (update: ImageStreamTagUpdate & { registry: string }) => Promise<ImageChangeOutcome>;
  logger: Logger;
}

type Source = 'github' | 'gitlab' | 'bitbucket' | 'generic' | 'unknown' | 'github-org' | 'registry';
function count(source: Source, outcome: DeliveryOutcome): void {
  webhookDeliveries.inc({ source, outcome });
}

/** The core's view of an express request. */
function webhookRequest(req: Request): WebhookRequest {
  return {
    method: req.method,
    getHeader: (name) => req.get(name),
    // express.raw leaves `body` undefined when the request has none.
    rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
  };
}

function send(res: Response, r: WebhookReply): void {
  res.status(r.status).json(toStatusObject(r));
}

/** Counts the delivery and sends the answer. */
function answer(res: Response, source: Source, a: DeliveryAnswer): void {
  count(source, a.outcome);
  if (a.headers) res.set(a.headers);
  res.status(a.status).json(a.body);
}

const rawBody = express.raw({ type: () => true, limit: MAX_WEBHOOK_BODY_BYTES });

/**
 * The last handler of each webhook route. Body-reading failures are answered as the
 * cores would (413 over the cap, 400 for a broken body); anything else is counted as a
 * failed delivery and left to the server's error middleware (a 500 Status).
 */
function webhookErrors(source: (req: Request) => Source): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.too.large') {
      count(source(req), 'rejected');
      return send(res, reply(413, `the payload is larger than ${MAX_WEBHOOK_BODY_BYTES} bytes`));
    }
    if (e.type !== undefined && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      count(source(req), 'rejected');
      return send(res, reply(400, `the request body could not be read: ${e.message ?? 'unknown error'}`));
    }
    count(source(req), 'failed');
    next(err);
  };
}

function perBuildConfigSource(req: Request): Source {
  const type = (req.params as { type?: string }).type ?? '';
  return (WEBHOOK_TYPES as readonly string[]).includes(type) ? (type as Source) : 'unknown';
}

export interface WebhookRoutes {
  router: Router;
  /**
   * Resolves when every delivery being handled has been answered. A handler goes on after
   * its client hangs up (GitHub stops waiting after 10 s), and a claimed delivery must get
   * its builds queued before the server closes Redis: shut down with `drain()`, not just
   * by closing sockets.
   */
  drain(): Promise<void>;
}

export function webhookRouter(deps: WebhookRoutesDeps): WebhookRoutes {
  const { store, claims, logger } = deps;
  const router = Router();
  const inFlight = new Set<Promise<unknown>>();
  const tracked =
    (handler: RequestHandler): RequestHandler =>
    (req, res, next) => {
      const p = Promise.resolve(handler(req, res, next)).catch(next);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    };
  // Without a secret the org endpoint would let anyone start builds: it stays off.
  const receiver = deps.config.githubSecret
    ? createGitHubOrgReceiver({ secret: deps.config.githubSecret })
    : undefined;
  const delivery = { store, claims, instantiate: deps.instantiate, logger };

  // OpenShift's per-BuildConfig URLs; the core answers 405 to other methods.
  const perBuildConfig: RequestHandler = async (req, res) => {
    const { ns, name, secret, type } = req.params as Record<string, string>;
    const request = webhookRequest(req);
    const a = await deliverBuildConfigHook(delivery, {
      namespace: ns!,
      name: name!,
      secret: secret!,
      type: type!,
      request,
    });
    answer(res, perBuildConfigSource(req), a);
  };
  router.all(BUILDCONFIG_WEBHOOK_PATH, rawBody, tracked(perBuildConfig), webhookErrors(perBuildConfigSource));

  const githubOrg: RequestHandler = async (req, res) => {
    const a = await deliverGitHubOrgHook({ ...delivery, receiver, index: deps.index }, webhookRequest(req));
    answer(res, 'github-org', a);
  };
  router.all(
    GITHUB_ORG_WEBHOOK_PATH,
    rawBody,
    tracked(githubOrg),
    webhookErrors(() => 'github-org'),
  );

  const registry: RequestHandler = async (req, res) => {
    const a = await deliverRegistryNotification(
      {
        store,
        claims,
        logger,
        token: deps.config.registryNotifyToken,
        dispatchImageChange: deps.dispatchImageChange,
      },
      webhookRequest(req),
    );
    answer(res, 'registry', a);
  };
  router.all(
    REGISTRY_WEBHOOK_PATH,
    rawBody,
    tracked(registry),
    webhookErrors(() => 'registry'),
  );

  return {
    router,
    drain: async () => {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
