/**
 * The webhook endpoints, served by a plain `node:http` handler placed in front of the
 * express app on the same port (src/api/server.ts `serveWebhooksFirst`). Each reads the
 * raw body (signatures are computed over the exact bytes), hands it to the
 * runtime-neutral delivery module (src/webhooks/delivery.ts: claim, start builds,
 * release, answer), counts the outcome and sends the answer. Nothing builds here;
 * GitHub gives up on a hook after 10 s
 * (https://docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks#respond-within-10-seconds).
 *
 * Why not express: a delivery is small and hot (an org's pushes all arrive here), and
 * express' routing, body parser and `res.json` cost more than verifying, parsing and
 * recording the delivery itself (docs/webhooks.md, "The ingest path"). What express gave
 * is kept: the body limit, Status objects for every error, the Redis-down 503, the
 * request counter, and path matching as express does it (case-insensitive, a trailing
 * slash allowed, the query ignored, parameters URL-decoded).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SlipwayConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { httpRequests, webhookDeliveries } from '../core/metrics.js';
import type { DeliveryClaims } from '../store/delivery-claims.js';
import type { PushIntake } from '../store/push-intake.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { ImageChangeOutcome } from '../triggers/image-change-dispatch.js';
import type { ImageStreamTagUpdate } from '../triggers/image-change.js';
import {
  deliverBuildConfigHook,
  deliverGitHubOrgHook,
  deliverRegistryNotification,
  replyAnswer,
  type DeliveryAnswer,
  type StartBuild,
} from '../webhooks/delivery.js';
import { createGitHubOrgReceiver, MAX_WEBHOOK_BODY_BYTES, WEBHOOK_TYPES } from '../webhooks/index.js';
import { contentLengthExceedsLimit, reply, tooLarge, type WebhookRequest } from '../webhooks/request.js';
import { errorStatus } from './errors.js';

/** OpenShift's per-BuildConfig webhook URL, as the request counter labels it. */
export const BUILDCONFIG_WEBHOOK_PATH =
  '/apis/build.openshift.io/v1/namespaces/:ns/buildconfigs/:name/webhooks/:secret/:type';
export const GITHUB_ORG_WEBHOOK_PATH = '/webhooks/github';
export const REGISTRY_WEBHOOK_PATH = '/webhooks/registry';

export const REDIS_DOWN_MESSAGE =
  'Redis is not answering; the API cannot read or store anything until it is back';

export interface WebhookRoutesDeps {
  config: Pick<SlipwayConfig, 'githubSecret' | 'registryNotifyToken'>;
  store: ResourceStore;
  claims: DeliveryClaims;
  /** The org endpoint's claim and BuildConfigs-by-repository lookup (src/store/push-intake.ts). */
  intake: PushIntake;
  /** How builds start (the runtime's instantiate, with run policies). */
  instantiate: StartBuild;
  /** Fires the ImageChange triggers of a tag update (src/triggers/image-change-dispatch.ts). */
  dispatchImageChange: (update: ImageStreamTagUpdate & { registry: string }) => Promise<ImageChangeOutcome>;
  /**
   * Whether Redis is connected right now, answered without a round trip: while it is not,
   * deliveries get a 503 at once (the sender retries) instead of waiting on ioredis' retries.
   */
  redisConnected?: () => boolean;
  logger: Logger;
}

type Source = 'github' | 'gitlab' | 'bitbucket' | 'generic' | 'unknown' | 'github-org' | 'registry';

/** Which endpoint a request path names, with its parameters decoded. */
export type WebhookRoute =
  | { endpoint: 'github-org' }
  | { endpoint: 'registry' }
  | { endpoint: 'buildconfig'; namespace: string; name: string; secret: string; type: string }
  /** A webhook path whose parameter is not valid percent-encoding (express' 400). */
  | { endpoint: 'bad-path'; message: string };

const ORG_PATH = /^\/webhooks\/github\/?$/i;
const REGISTRY_PATH = /^\/webhooks\/registry\/?$/i;
const BUILDCONFIG_PATH =
  /^\/apis\/build\.openshift\.io\/v1\/namespaces\/([^/]+)\/buildconfigs\/([^/]+)\/webhooks\/([^/]+)\/([^/]+)\/?$/i;
// An absolute-form request target (`POST http://host/path HTTP/1.1`) names its path after the authority.
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/**
 * The webhook endpoint a request target names, or undefined when it names none (the
 * request is then express'). Matches as express' router does by default.
 */
export function matchWebhookPath(target: string): WebhookRoute | undefined {
  let path = target;
  if (path.charCodeAt(0) !== 0x2f) {
    const authority = ABSOLUTE_FORM.exec(path);
    if (!authority) return undefined;
    path = path.slice(authority[0].length) || '/';
  }
  const q = path.indexOf('?');
  if (q >= 0) path = path.slice(0, q);
  if (ORG_PATH.test(path)) return { endpoint: 'github-org' };
  if (REGISTRY_PATH.test(path)) return { endpoint: 'registry' };
  const m = BUILDCONFIG_PATH.exec(path);
  if (!m) return undefined;
  const params = ['ns', 'name', 'secret', 'type'] as const;
  const values: string[] = [];
  for (let i = 0; i < params.length; i++) {
    const raw = m[i + 1]!;
    try {
      values.push(raw.includes('%') ? decodeURIComponent(raw) : raw);
    } catch {
      // The parameter is the secret, maybe: name it, never quote it.
      return {
        endpoint: 'bad-path',
        message: `the path parameter "${params[i]}" is not valid percent-encoding`,
      };
    }
  }
  const [namespace, name, secret, type] = values as [string, string, string, string];
  return { endpoint: 'buildconfig', namespace, name, secret, type };
}

function sourceOf(route: WebhookRoute): Source {
  if (route.endpoint === 'github-org') return 'github-org';
  if (route.endpoint === 'registry') return 'registry';
  if (route.endpoint === 'bad-path') return 'unknown';
  return (WEBHOOK_TYPES as readonly string[]).includes(route.type) ? (route.type as Source) : 'unknown';
}

function routeLabel(route: WebhookRoute): string {
  if (route.endpoint === 'github-org') return GITHUB_ORG_WEBHOOK_PATH;
  if (route.endpoint === 'registry') return REGISTRY_WEBHOOK_PATH;
  return BUILDCONFIG_WEBHOOK_PATH;
}

/** Sends a JSON answer in one write: head and body together. */
function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

type BodyResult = { ok: true; body: Buffer } | { ok: false; answer: DeliveryAnswer };

/**
 * Reads the whole body up to MAX_WEBHOOK_BODY_BYTES: a declared or actual size over it is
 * a 413, and a body the sender compressed is a 415: no sender of webhooks compresses, and
 * inflating would let a small request grow past the limit before it is counted. Whatever
 * is left unread when the answer is sent, node:http reads and drops (as express' body
 * parser did), bounded by the server's request timeout, so the sender sees the answer.
 */
function readBody(req: IncomingMessage): Promise<BodyResult> {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return Promise.resolve({
      ok: false,
      answer: replyAnswer(
        reply(
          415,
          `Content-Encoding ${JSON.stringify(encoding)} is not accepted on a webhook; send the payload uncompressed`,
        ),
      ),
    });
  }
  if (contentLengthExceedsLimit(req.headers['content-length']))
    return Promise.resolve({ ok: false, answer: replyAnswer(tooLarge()) });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: BodyResult): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_WEBHOOK_BODY_BYTES) {
        chunks.length = 0;
        finish({ ok: false, answer: replyAnswer(tooLarge()) });
        req.resume(); // read and drop the rest
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () =>
      finish({ ok: true, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) }),
    );
    // The client went away mid-body (or the socket failed): there is no one to answer.
    const gone = (): void =>
      finish({
        ok: false,
        answer: replyAnswer(
          reply(400, 'the request body could not be read: the client closed the connection'),
        ),
      });
    req.on('aborted', gone);
    req.on('error', gone);
  });
}

export interface WebhookRoutes {
  /**
   * Serves the request and returns true when its path is a webhook endpoint's; returns
   * false, touching nothing, for any other path.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * Resolves when every delivery being handled has been answered. A handler goes on after
   * its client hangs up (GitHub stops waiting after 10 s), and a claimed delivery must get
   * its builds queued before the server closes Redis: shut down with `drain()`, not just
   * by closing sockets.
   */
  drain(): Promise<void>;
}

export function webhookRoutes(deps: WebhookRoutesDeps): WebhookRoutes {
  const { store, claims, logger } = deps;
  const inFlight = new Set<Promise<unknown>>();
  // Without a secret the org endpoint would let anyone start builds: it stays off.
  const receiver = deps.config.githubSecret
    ? createGitHubOrgReceiver({ secret: deps.config.githubSecret })
    : undefined;
  const delivery = { store, claims, instantiate: deps.instantiate, logger };
  const orgDeps = { ...delivery, receiver, intake: deps.intake };
  const registryDeps = {
    store,
    claims,
    logger,
    token: deps.config.registryNotifyToken,
    dispatchImageChange: deps.dispatchImageChange,
  };

  function deliver(route: WebhookRoute, request: WebhookRequest): Promise<DeliveryAnswer> {
    switch (route.endpoint) {
      case 'github-org':
        return deliverGitHubOrgHook(orgDeps, request);
      case 'registry':
        return deliverRegistryNotification(registryDeps, request);
      case 'buildconfig':
        return deliverBuildConfigHook(delivery, {
          namespace: route.namespace,
          name: route.name,
          secret: route.secret,
          type: route.type,
          request,
        });
      case 'bad-path':
        return Promise.resolve(replyAnswer(reply(400, route.message)));
    }
  }

  async function serve(route: WebhookRoute, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const source = sourceOf(route);
    let answer: DeliveryAnswer;
    try {
      if (deps.redisConnected && !deps.redisConnected()) {
        answer = replyAnswer(reply(503, REDIS_DOWN_MESSAGE), 'failed');
      } else {
        const body = await readBody(req);
        if (body.ok) {
          answer = await deliver(route, {
            method: req.method,
            getHeader: (name) => {
              const v = req.headers[name.toLowerCase()];
              return Array.isArray(v) ? v.join(', ') : v;
            },
            rawBody: body.body,
          });
        } else answer = body.answer;
      }
    } catch (err) {
      webhookDeliveries.inc({ source, outcome: 'failed' });
      const status = errorStatus(
        err,
        logger,
        deps.redisConnected ? { redisConnected: deps.redisConnected } : {},
      );
      if (!res.headersSent && !res.destroyed) sendJson(res, status.code, status);
      else res.end();
      return;
    }
    webhookDeliveries.inc({ source, outcome: answer.outcome });
    if (res.destroyed) return;
    sendJson(res, answer.status, answer.body, answer.headers);
  }

  return {
    handle(req, res) {
      const route = matchWebhookPath(req.url ?? '');
      if (!route) return false;
      res.once('finish', () =>
        httpRequests.inc({
          method: req.method ?? '',
          route: routeLabel(route),
          code: String(res.statusCode),
        }),
      );
      const p = serve(route, req, res).catch((err: unknown) => {
        // serve answers its own errors; this is a failure to send the answer itself.
        logger.error({ err }, 'could not answer a webhook delivery');
        res.destroy();
      });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      return true;
    },
    drain: async () => {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
