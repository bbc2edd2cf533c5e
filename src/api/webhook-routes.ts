/**
 * The webhook endpoints: thin express wrappers over the runtime-neutral cores in
 * src/webhooks/ (the shape of octokit/webhooks.js' middleware). Each reads the raw body
 * (signatures are computed over the exact bytes), asks its core, and acts on the event:
 * claim the delivery, start the builds (stored and queued in Redis), answer. Nothing
 * builds here; GitHub gives up on a hook after 10 s
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
import { InputError, NotFoundError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { webhookDeliveries } from '../core/metrics.js';
import { lookupKind, type Resource } from '../core/resource.js';
import type { BuildRequest } from '../queue/instantiate.js';
import { recordImageStreamTag } from '../registry/image-streams.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { BuildConfigIndex } from '../triggers/buildconfig-index.js';
import type { DeliveryClaims } from '../store/delivery-claims.js';
import type { ImageChangeOutcome } from '../triggers/image-change-dispatch.js';
import type { ImageStreamTagUpdate } from '../triggers/image-change.js';
import { findBuildsForPush } from '../triggers/push-router.js';
import {
  createGitHubOrgReceiver,
  handleBuildConfigWebhook,
  handleRegistryNotification,
  MAX_WEBHOOK_BODY_BYTES,
  toStatusObject,
  WEBHOOK_TYPES,
  type WebhookReply,
  type WebhookRequest,
} from '../webhooks/index.js';
import { reply } from '../webhooks/request.js';

const BUILD_CONFIG = lookupKind('build.openshift.io/v1', 'BuildConfig')!;
const SECRET = lookupKind('v1', 'Secret')!;

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
type Outcome = 'built' | 'ignored' | 'duplicate' | 'rejected' | 'failed';

function count(source: Source, outcome: Outcome): void {
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

/** Kubernetes Status for the answers the cores do not make (202 with details, 500). */
function statusBody(
  code: number,
  message: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const ok = code < 400;
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: ok ? 'Success' : 'Failure',
    message,
    ...(ok ? {} : { reason: 'InternalError' }),
    code,
    ...extra,
  };
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

/** An error that means "this build config will not build", not "try again". */
function isSkip(err: unknown): boolean {
  return err instanceof NotFoundError || err instanceof InputError;
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
  const getBuildConfig = (ns: string, name: string): Promise<Resource | undefined> =>
    store.get(BUILD_CONFIG, ns, name);
  const getSecret = (ns: string, name: string): Promise<Resource | undefined> => store.get(SECRET, ns, name);
  // Without a secret the org endpoint would let anyone start builds: it stays off.
  const orgReceiver = deps.config.githubSecret
    ? createGitHubOrgReceiver({ secret: deps.config.githubSecret })
    : undefined;

  // OpenShift's per-BuildConfig URLs; the core answers 405 to other methods.
  const perBuildConfig: RequestHandler = async (req, res, next) => {
    const source = perBuildConfigSource(req);
    const { ns, name, secret, type } = req.params as Record<string, string>;
    const result = await handleBuildConfigWebhook({
      namespace: ns!,
      name: name!,
      secret: secret!,
      type: type!,
      request: webhookRequest(req),
      getBuildConfig,
      getSecret,
    });
    if (result.action === 'reply') {
      count(source, result.reply.status < 300 ? 'ignored' : 'rejected');
      return send(res, result.reply);
    }
    if (result.deliveryId && !(await claims.claimDelivery(result.deliveryId))) {
      count(source, 'duplicate');
      return send(res, reply(200, `delivery ${result.deliveryId} was already handled; no new build`));
    }
    try {
      const build = await deps.instantiate(ns!, name!, result.request);
      count(source, 'built');
      // RFC 7234 warn-code 299: OpenShift's "warning" beside a created build.
      if (result.warning) res.set('Warning', `299 - ${JSON.stringify(result.warning)}`);
      res.status(200).json(build);
    } catch (err) {
      if (result.deliveryId) await claims.releaseDelivery(result.deliveryId).catch(() => undefined);
      next(err);
    }
  };
  router.all(BUILDCONFIG_WEBHOOK_PATH, rawBody, tracked(perBuildConfig), webhookErrors(perBuildConfigSource));

  const githubOrg: RequestHandler = async (req, res, next) => {
    if (!orgReceiver) {
      count('github-org', 'rejected');
      return send(
        res,
        reply(
          404,
          'the GitHub org/App webhook is off: set SLIPWAY_GITHUB_SECRET (githubSecret in the config file) to the webhook secret configured on GitHub, and restart the server',
        ),
      );
    }
    const result = await orgReceiver.receive(webhookRequest(req));
    if (result.action === 'reply') {
      count('github-org', result.reply.status < 300 ? 'ignored' : 'rejected');
      return send(res, result.reply);
    }
    const { deliveryId } = result;
    // The claim and the lookup are independent reads: one round trip to Redis, not two.
    // A duplicate's lookup is wasted, and duplicates are rare.
    const [claimed, routed] = await Promise.allSettled([
      deliveryId ? claims.claimDelivery(deliveryId) : Promise.resolve(true),
      findBuildsForPush({ push: result.push, index: deps.index, getBuildConfig }),
    ]);
    if (claimed.status === 'rejected') throw claimed.reason;
    if (!claimed.value) {
      count('github-org', 'duplicate');
      return send(res, reply(200, `delivery ${deliveryId} was already handled; no new builds`));
    }
    try {
      if (routed.status === 'rejected') throw routed.reason;
      const routing = routed.value;
      const skipped = routing.skipped.map((s) => ({
        buildConfig: `${s.buildConfig.namespace}/${s.buildConfig.name}`,
        reason: s.reason,
      }));
      const builds: string[] = [];
      const failures: string[] = [];
      await Promise.all(
        routing.builds.map(async (target) => {
          const key = `${target.buildConfig.namespace}/${target.buildConfig.name}`;
          // A claim per BuildConfig too: after a partial failure, GitHub's redelivery
          // starts only the builds that did not start the first time.
          const pair = deliveryId ? `${deliveryId}:${key}` : undefined;
          if (pair && !(await claims.claimDelivery(pair))) {
            skipped.push({ buildConfig: key, reason: 'already built for this delivery' });
            return;
          }
          try {
            const build = await deps.instantiate(
              target.buildConfig.namespace,
              target.buildConfig.name,
              target.request,
            );
            builds.push(`${target.buildConfig.namespace}/${build.metadata.name}`);
          } catch (err) {
            if (isSkip(err)) {
              skipped.push({ buildConfig: key, reason: errorMessage(err) });
              return;
            }
            if (pair) await claims.releaseDelivery(pair).catch(() => undefined);
            failures.push(`${key}: ${errorMessage(err)}`);
            logger.error({ err, buildConfig: key, deliveryId }, 'could not start a build for a GitHub push');
          }
        }),
      );
      builds.sort();
      if (failures.length > 0) {
        if (deliveryId) await claims.releaseDelivery(deliveryId).catch(() => undefined);
        count('github-org', 'failed');
        res
          .status(500)
          .json(
            statusBody(
              500,
              `${failures.length} build(s) could not be started (${failures.join('; ')}); redeliver the hook to retry them`,
              { builds, skipped },
            ),
          );
        return;
      }
      count('github-org', builds.length > 0 ? 'built' : 'ignored');
      const message =
        builds.length > 0
          ? `push to ${result.repository} started ${builds.length} build(s)`
          : `push to ${result.repository} starts no build (${routing.candidates} BuildConfig(s) use the repository)`;
      res.status(202).json(statusBody(202, message, { builds, skipped }));
    } catch (err) {
      if (deliveryId) await claims.releaseDelivery(deliveryId).catch(() => undefined);
      next(err);
    }
  };
  router.all(
    GITHUB_ORG_WEBHOOK_PATH,
    rawBody,
    tracked(githubOrg),
    webhookErrors(() => 'github-org'),
  );

  const registry: RequestHandler = async (req, res, next) => {
    const result = handleRegistryNotification({
      request: webhookRequest(req),
      token: deps.config.registryNotifyToken,
    });
    if (result.action === 'reply') {
      count('registry', result.reply.status < 300 ? 'ignored' : 'rejected');
      return send(res, result.reply);
    }
    const builds: string[] = [];
    let duplicates = 0;
    try {
      // In order: two pushes to one tag in one envelope land as the registry stored them.
      for (const event of result.events) {
        if (!(await claims.claimDelivery(event.deliveryId))) {
          duplicates++;
          continue;
        }
        try {
          await recordImageStreamTag({
            store,
            namespace: event.namespace,
            name: event.stream,
            tag: event.tag,
            digest: event.digest,
            repository: `${event.registryHost}/${event.repository}`,
          });
          const outcome = await deps.dispatchImageChange({
            namespace: event.namespace,
            stream: event.stream,
            tag: event.tag,
            image: event.digest,
            dockerImageReference: event.dockerImageReference,
            registry: event.registryHost,
          });
          builds.push(...outcome.builds);
        } catch (err) {
          // Distribution retries the envelope until it gets a 2xx: let this event be retried.
          await claims.releaseDelivery(event.deliveryId).catch(() => undefined);
          throw err;
        }
      }
    } catch (err) {
      return next(err);
    }
    const allDuplicates = duplicates > 0 && duplicates === result.events.length;
    count('registry', builds.length > 0 ? 'built' : allDuplicates ? 'duplicate' : 'ignored');
    res.status(200).json({
      ...toStatusObject(result.reply),
      builds,
      ignored: result.ignored,
      ...(duplicates > 0 ? { duplicates } : {}),
    });
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
