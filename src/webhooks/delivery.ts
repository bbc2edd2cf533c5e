/**
 * What happens to a webhook delivery once a receiver has accepted it: claim the
 * delivery (so a redelivery or a second server starts nothing twice), start the builds,
 * release the claim when starting failed (so the sender's retry can start them), and
 * answer. Runtime-neutral: it takes the request as src/webhooks/request.ts describes it
 * and returns the answer; express (src/api/webhook-routes.ts) only reads and sends.
 *
 * An unexpected failure is thrown after the claim is released: the HTTP wrapper turns
 * it into a 500 Status, and the sender's retry finds the delivery unclaimed.
 */
import { InputError, NotFoundError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { lookupKind, type Resource } from '../core/resource.js';
import { statusObject } from '../core/status.js';
import type { BuildRequest } from '../queue/instantiate.js';
import { recordImageStreamTag } from '../registry/image-streams.js';
import type { DeliveryClaims } from '../store/delivery-claims.js';
import type { PushIntake } from '../store/push-intake.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { ImageChangeOutcome } from '../triggers/image-change-dispatch.js';
import type { ImageStreamTagUpdate } from '../triggers/image-change.js';
import { repositoryKeys } from '../triggers/buildconfig-index.js';
import { routeCandidates } from '../triggers/push-router.js';
import { handleBuildConfigWebhook } from './buildconfig-webhook.js';
import { githubRepositoryHint } from './github-payload.js';
import type { GitHubOrgReceiver } from './github-org-webhook.js';
import { handleRegistryNotification } from './registry-webhook.js';
import { reply, toStatusObject, type WebhookReply, type WebhookRequest } from './request.js';

const BUILD_CONFIG = lookupKind('build.openshift.io/v1', 'BuildConfig')!;
const SECRET = lookupKind('v1', 'Secret')!;

/** How a delivery ended, for the deliveries counter. */
export type DeliveryOutcome = 'built' | 'ignored' | 'duplicate' | 'rejected' | 'failed';

/** The answer to send: status, JSON body, extra headers. */
export interface DeliveryAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  outcome: DeliveryOutcome;
}

/** How a delivery starts a build; `current` is the BuildConfig when routing has just read it. */
export type StartBuild = (
  namespace: string,
  buildConfig: string,
  request: BuildRequest,
  current?: Resource,
) => Promise<Resource>;

export interface DeliveryDeps {
  store: ResourceStore;
  claims: DeliveryClaims;
  /** How builds start (the runtime's instantiate, with run policies). */
  instantiate: StartBuild;
  logger: Logger;
}

/** A receiver's deliberate reply, as an answer. */
export function replyAnswer(r: WebhookReply, outcome?: DeliveryOutcome): DeliveryAnswer {
  return {
    status: r.status,
    body: toStatusObject(r),
    outcome: outcome ?? (r.status < 300 ? 'ignored' : 'rejected'),
  };
}

/** An error that means "this build config will not build", not "try again". */
function isSkip(err: unknown): boolean {
  return err instanceof NotFoundError || err instanceof InputError;
}

/** OpenShift's per-BuildConfig webhook: one build, or a reply saying why not. */
export async function deliverBuildConfigHook(
  deps: DeliveryDeps,
  input: { namespace: string; name: string; secret: string; type: string; request: WebhookRequest },
): Promise<DeliveryAnswer> {
  const { store, claims } = deps;
  const result = await handleBuildConfigWebhook({
    ...input,
    getBuildConfig: (ns, name) => store.get(BUILD_CONFIG, ns, name),
    getSecret: (ns, name) => store.get(SECRET, ns, name),
  });
  if (result.action === 'reply') return replyAnswer(result.reply);
  if (result.deliveryId && !(await claims.claimDelivery(result.deliveryId))) {
    return replyAnswer(
      reply(200, `delivery ${result.deliveryId} was already handled; no new build`),
      'duplicate',
    );
  }
  try {
    const build = await deps.instantiate(input.namespace, input.name, result.request);
    return {
      status: 200,
      body: build,
      // RFC 7234 warn-code 299: OpenShift's "warning" beside a created build.
      ...(result.warning ? { headers: { Warning: `299 - ${JSON.stringify(result.warning)}` } } : {}),
      outcome: 'built',
    };
  } catch (err) {
    if (result.deliveryId) await claims.releaseDelivery(result.deliveryId).catch(() => undefined);
    throw err;
  }
}

export const ORG_WEBHOOK_OFF_MESSAGE =
  'the GitHub org/App webhook is off: set SLIPWAY_GITHUB_SECRET (githubSecret in the config file) to the webhook secret configured on GitHub, and restart the server';

/** Whether every repository the parsed URLs name is one the bytes' URLs named too. */
function sameRepository(hint: readonly string[], parsed: readonly string[]): boolean {
  const looked = new Set(repositoryKeys(hint));
  return repositoryKeys(parsed).every((k) => looked.has(k));
}

/** The org/App webhook: every BuildConfig the push should build, with a claim per BuildConfig. */
export async function deliverGitHubOrgHook(
  deps: DeliveryDeps & {
    /** Undefined when no secret is configured: the endpoint is off. */
    receiver: GitHubOrgReceiver | undefined;
    /** The delivery's claim and the BuildConfigs by repository, in one step. */
    intake: PushIntake;
  },
  request: WebhookRequest,
): Promise<DeliveryAnswer> {
  const { claims, logger } = deps;
  if (!deps.receiver) return replyAnswer(reply(404, ORG_WEBHOOK_OFF_MESSAGE));
  const checked = deps.receiver.check(request);
  if (checked.action === 'reply') return replyAnswer(checked.reply);
  const { deliveryId } = checked;
  const duplicate = (): DeliveryAnswer =>
    replyAnswer(reply(200, `delivery ${deliveryId} was already handled; no new builds`), 'duplicate');

  // Most pushes name a repository no BuildConfig uses: read its URLs from the bytes and
  // answer those without parsing the payload (githubRepositoryHint). The claim and the
  // lookup together are one Redis command (src/store/push-intake.ts).
  const hint = githubRepositoryHint(request.rawBody);
  let intake = hint ? await deps.intake.claimAndLookup(deliveryId, hint) : undefined;
  if (intake && !intake.claimed) return duplicate();
  if (intake && hint && intake.candidates.length === 0) {
    return {
      status: 202,
      body: {
        ...statusObject({
          code: 202,
          message: `push to ${hint[0]} starts no build (no BuildConfig uses the repository)`,
        }),
        builds: [],
        skipped: [],
      },
      outcome: 'ignored',
    };
  }
  const result = deps.receiver.parse(request.rawBody, deliveryId);
  if (result.action === 'reply') {
    if (intake && deliveryId) await claims.releaseDelivery(deliveryId).catch(() => undefined);
    return replyAnswer(result.reply);
  }
  if (!intake) {
    intake = await deps.intake.claimAndLookup(deliveryId, result.push.repoUrls);
    if (!intake.claimed) return duplicate();
  } else if (hint && !sameRepository(hint, result.push.repoUrls)) {
    // The parsed payload names more URLs than the bytes gave: look them all up.
    intake = { claimed: true, candidates: await deps.intake.lookup(result.push.repoUrls) };
  }
  try {
    const routing = await routeCandidates({
      push: result.push,
      candidates: intake.candidates,
      getBuildConfig: (ns, name) => deps.store.get(BUILD_CONFIG, ns, name),
    });
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
            target.object,
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
      return {
        status: 500,
        body: {
          ...statusObject({
            code: 500,
            reason: 'InternalError',
            message: `${failures.length} build(s) could not be started (${failures.join('; ')}); redeliver the hook to retry them`,
          }),
          builds,
          skipped,
        },
        outcome: 'failed',
      };
    }
    const message =
      builds.length > 0
        ? `push to ${result.repository} started ${builds.length} build(s)`
        : `push to ${result.repository} starts no build (${routing.candidates} BuildConfig(s) use the repository)`;
    return {
      status: 202,
      body: { ...statusObject({ code: 202, message }), builds, skipped },
      outcome: builds.length > 0 ? 'built' : 'ignored',
    };
  } catch (err) {
    if (deliveryId) await claims.releaseDelivery(deliveryId).catch(() => undefined);
    throw err;
  }
}

/** The registry's notifications: record each pushed tag, then fire its ImageChange triggers. */
export async function deliverRegistryNotification(
  deps: Omit<DeliveryDeps, 'instantiate'> & {
    /** The bearer token the registry sends; undefined turns the endpoint off. */
    token: string | undefined;
    /** Fires the ImageChange triggers of a tag update (src/triggers/image-change-dispatch.ts). */
    dispatchImageChange: (update: ImageStreamTagUpdate & { registry: string }) => Promise<ImageChangeOutcome>;
  },
  request: WebhookRequest,
): Promise<DeliveryAnswer> {
  const { store, claims } = deps;
  const result = handleRegistryNotification({ request, token: deps.token });
  if (result.action === 'reply') return replyAnswer(result.reply);
  const builds: string[] = [];
  let duplicates = 0;
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
  const allDuplicates = duplicates > 0 && duplicates === result.events.length;
  return {
    status: 200,
    body: {
      ...toStatusObject(result.reply),
      builds,
      ignored: result.ignored,
      ...(duplicates > 0 ? { duplicates } : {}),
    },
    outcome: builds.length > 0 ? 'built' : allDuplicates ? 'duplicate' : 'ignored',
  };
}
