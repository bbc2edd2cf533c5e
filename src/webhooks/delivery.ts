/**
 * What happens to a webhook delivery once a receiver has accepted it: claim the
 * delivery (so a redelivery or a second server starts nothing twice), start the builds,
 * release the claim when starting failed (so the sender's retry can start them), and
 * answer. Runtime-neutral: it takes the request as src/webhooks/request.ts describes it
 * and returns the answer; the HTTP handler (src/api/webhook-routes.ts) only reads and
 * sends. An org/App push is only taken in here (claim, lookup, record); a worker routes it
 * to builds (src/webhooks/push-routing.ts).
 *
 * An unexpected failure is thrown after the claim is released: the HTTP wrapper turns
 * it into a 500 Status, and the sender's retry finds the delivery unclaimed.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import { lookupKind, type Resource } from '../core/resource.js';
import { statusObject } from '../core/status.js';
import type { BuildRequest } from '../queue/instantiate.js';
import { recordImageStreamTag } from '../registry/image-streams.js';
import type { DeliveryClaims } from '../store/delivery-claims.js';
import type { PushRecord } from '../store/push-inbox.js';
import type { PushIntake } from '../store/push-intake.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { ImageChangeOutcome } from '../triggers/image-change-dispatch.js';
import type { ImageStreamTagUpdate } from '../triggers/image-change.js';
import { handleBuildConfigWebhook } from './buildconfig-webhook.js';
import { githubRepositoryHint } from './github-payload.js';
import type { GitHubOrgReceiver, GitHubOrgWebhookResult } from './github-org-webhook.js';
import { handleRegistryNotification } from './registry-webhook.js';
import { reply, toStatusObject, type WebhookReply, type WebhookRequest } from './request.js';

const BUILD_CONFIG = lookupKind('build.openshift.io/v1', 'BuildConfig')!;
const SECRET = lookupKind('v1', 'Secret')!;

/** How a delivery ended, for the deliveries counter. */
export type DeliveryOutcome = 'built' | 'accepted' | 'ignored' | 'duplicate' | 'rejected' | 'failed';

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

/**
 * The org/App webhook: verify, claim, look up and, when a BuildConfig uses the
 * repository, read the push and record it for a worker to route
 * (src/webhooks/push-routing.ts), all before answering. The answer names the
 * BuildConfigs that use the repository; which of them build (ref, trigger, paused) is
 * decided by the routing, and its outcome is logged.
 */
export async function deliverGitHubOrgHook(
  deps: {
    /** Undefined when no secret is configured: the endpoint is off. */
    receiver: GitHubOrgReceiver | undefined;
    /** The delivery's claim, lookup and record (src/store/push-intake.ts). */
    intake: PushIntake;
  },
  request: WebhookRequest,
): Promise<DeliveryAnswer> {
  if (!deps.receiver) return replyAnswer(reply(404, ORG_WEBHOOK_OFF_MESSAGE));
  const checked = deps.receiver.check(request);
  if (checked.action === 'reply') return replyAnswer(checked.reply);
  // Without X-GitHub-Delivery a redelivery cannot be told apart: each is its own delivery.
  const deliveryId = checked.deliveryId ?? `github:unnamed-${randomUUID()}`;

  // Most pushes name a repository no BuildConfig uses: read its URLs from the bytes and
  // look those up without parsing the payload (githubRepositoryHint). A payload the
  // bytes do not give plainly is parsed first, and refused when it is not a valid push.
  // A push that a BuildConfig uses is read whole (refused when it is not a valid push,
  // with nothing claimed) and recorded as read: at once when its repository was found
  // used before, else once Redis says it is (src/store/push-intake.ts).
  const { receiver } = deps;
  let parsed: GitHubOrgWebhookResult | undefined;
  const read = (): GitHubOrgWebhookResult => (parsed ??= receiver.parse(request.rawBody, deliveryId));
  let repoUrls = githubRepositoryHint(request.rawBody);
  if (!repoUrls) {
    const push = read();
    if (push.action === 'reply') return replyAnswer(push.reply);
    repoUrls = push.push.repoUrls;
  }
  // Without the record first, unless the repository was found used before.
  let taken = deps.intake.expectsUse(repoUrls)
    ? undefined
    : await deps.intake.accept({ deliveryId, repoUrls });
  if (taken === undefined || taken.state === 'used') {
    const push = read();
    if (push.action === 'reply') return replyAnswer(push.reply);
    taken = await deps.intake.accept({ deliveryId, repoUrls, record: pushRecord(push) });
  }
  if (taken.state === 'duplicate')
    return replyAnswer(reply(200, `delivery ${deliveryId} was already handled; no new builds`), 'duplicate');
  const repository = parsed?.action === 'push' ? parsed.repository : repoUrls[0];
  // Unused, or used a moment ago and no longer (the BuildConfigs deleted in between).
  const buildConfigs =
    taken.state === 'recorded' ? taken.candidates.map((c) => `${c.namespace}/${c.name}`) : [];
  const message =
    buildConfigs.length > 0
      ? `push to ${repository} accepted: ${buildConfigs.length} BuildConfig(s) use the repository; a worker starts the builds the push should start`
      : `push to ${repository} starts no build (no BuildConfig uses the repository)`;
  return {
    status: 202,
    body: { ...statusObject({ code: 202, message }), delivery: deliveryId, buildConfigs },
    outcome: buildConfigs.length > 0 ? 'accepted' : 'ignored',
  };
}

/** What the push inbox keeps of a push read whole. */
function pushRecord(parsed: Extract<GitHubOrgWebhookResult, { action: 'push' }>): PushRecord {
  const record: PushRecord = { push: parsed.push, repository: parsed.repository };
  if (parsed.after) record.after = parsed.after;
  return record;
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
