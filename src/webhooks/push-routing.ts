/**
 * Push → build: a worker takes the org/App pushes the endpoint recorded in the push
 * inbox (src/store/push-inbox.ts) and starts the builds each should start. The endpoint
 * only verifies, claims, looks up and records (src/webhooks/delivery.ts), so a burst of
 * pushes is answered at the rate Redis takes them in, and builds are made as fast as the
 * workers make them, apart from answering (docs/webhooks.md).
 *
 * Routing a push: read its record (the endpoint's reading of the payload; an entry that
 * does not hold a valid push is given up with its reason in the log), look its
 * repository up again (the BuildConfigs may have changed since), decide with routePush,
 * and start each build under a claim of its own (`{delivery}:{namespace}/{name}`), so a
 * push routed twice (a worker died after starting some of its builds) starts each build
 * once. A build that could not start for
 * a passing reason (Redis, the queue) leaves the entry pending: it is routed again, up
 * to MAX_ROUTING_ATTEMPTS times; a BuildConfig that will not build (deleted, paused,
 * over quota) is a skip, logged with its reason.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ForbiddenError, InputError, NotFoundError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { pushesRouted } from '../core/metrics.js';
import { lookupKind, type Resource } from '../core/resource.js';
import type { DeliveryClaims } from '../store/delivery-claims.js';
import { MAX_ROUTING_ATTEMPTS, type QueuedPush, type RedisPushInbox } from '../store/push-inbox.js';
import type { ResourceStore } from '../store/resource-store.js';
import { parseGitHubOrgPush } from './github-org-webhook.js';
import type { StartBuild } from './delivery.js';
import type { BuildConfigIndex } from '../triggers/buildconfig-index.js';
import { routeCandidates } from '../triggers/push-router.js';
import type { PushEvent } from '../triggers/types.js';
import { arr, obj, parseJsonBody, str } from './request.js';

const BUILD_CONFIG = lookupKind('build.openshift.io/v1', 'BuildConfig')!;

export interface PushRoutingDeps {
  store: ResourceStore;
  index: BuildConfigIndex;
  claims: DeliveryClaims;
  instantiate: StartBuild;
  logger: Logger;
}

export interface RoutedPush {
  /** `ignored` when no BuildConfig builds it; `rejected` when the payload is not a valid push. */
  outcome: 'built' | 'ignored' | 'rejected' | 'retry';
  /** `namespace/build` of every build started. */
  builds: string[];
  skipped: { buildConfig: string; reason: string }[];
  /** Why routing must be tried again, or why the payload was refused. */
  message?: string;
}

/** An error that means "this BuildConfig will not build", not "try again". */
function isSkip(err: unknown): boolean {
  return err instanceof NotFoundError || err instanceof InputError || err instanceof ForbiddenError;
}

type ReadPush = { ok: true; push: PushEvent } | { ok: false; message: string };

/**
 * The push an inbox entry holds: its record (a PushRecord as JSON), or, in an entry
 * recorded before records were (a queue that outlived an upgrade), its payload read whole.
 * The record was written by the endpoint from a checked payload; its shape is checked
 * again all the same, so a damaged entry is refused with a reason, not routed half.
 */
export function readQueuedPush(entry: { deliveryId: string; record?: Buffer; payload?: Buffer }): ReadPush {
  if (entry.record === undefined) {
    if (entry.payload === undefined) return { ok: false, message: 'the inbox entry holds no push' };
    const parsed = parseGitHubOrgPush(entry.payload, entry.deliveryId);
    return parsed.action === 'reply'
      ? { ok: false, message: parsed.reply.message }
      : { ok: true, push: parsed.push };
  }
  const read = parseJsonBody(entry.record);
  if (!read.ok) return { ok: false, message: `the inbox entry's record: ${read.reply.message}` };
  const push = obj(obj(read.value)?.push);
  const repoUrls = arr(push?.repoUrls);
  const refs = arr(push?.refs);
  if (
    !push ||
    !repoUrls.every((u) => typeof u === 'string') ||
    refs.length === 0 ||
    !refs.every((r) => str(obj(r)?.ref) !== undefined)
  )
    return { ok: false, message: "the inbox entry's record is not a push (repoUrls, refs)" };
  return { ok: true, push: push as unknown as PushEvent };
}

/** Routes one recorded push: the builds it starts and why the other candidates did not build. */
export async function routeQueuedPush(
  deps: PushRoutingDeps,
  entry: { deliveryId: string; record?: Buffer; payload?: Buffer },
): Promise<RoutedPush> {
  const { deliveryId } = entry;
  const read = readQueuedPush(entry);
  if (!read.ok) return { outcome: 'rejected', builds: [], skipped: [], message: read.message };
  const candidates = await deps.index.lookup(read.push.repoUrls);
  const routing = await routeCandidates({
    push: read.push,
    candidates,
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
      const pair = `${deliveryId}:${key}`;
      if (!(await deps.claims.claimDelivery(pair))) {
        skipped.push({ buildConfig: key, reason: 'already built for this delivery' });
        return;
      }
      let build: Resource;
      try {
        build = await deps.instantiate(
          target.buildConfig.namespace,
          target.buildConfig.name,
          target.request,
          target.object,
        );
      } catch (err) {
        if (isSkip(err)) {
          skipped.push({ buildConfig: key, reason: errorMessage(err) });
          return;
        }
        await deps.claims.releaseDelivery(pair).catch(() => undefined);
        failures.push(`${key}: ${errorMessage(err)}`);
        return;
      }
      builds.push(`${target.buildConfig.namespace}/${build.metadata.name}`);
    }),
  );
  builds.sort();
  if (failures.length > 0) {
    return {
      outcome: 'retry',
      builds,
      skipped,
      message: `${failures.length} build(s) could not be started: ${failures.join('; ')}`,
    };
  }
  return { outcome: builds.length > 0 ? 'built' : 'ignored', builds, skipped };
}

export interface PushRoutingHandle {
  /** This worker's name in the inbox's consumer group. */
  consumer: string;
  /** Stops taking entries and waits for the ones being routed. */
  close(): Promise<void>;
}

/** Entries taken at once by one worker. */
const BATCH = 16;
/** How long a read waits for an entry before looking for stale ones again. */
const READ_BLOCK_MS = 2000;

/** Takes entries from the push inbox and routes them until closed. */
export function startPushRouting(
  deps: PushRoutingDeps & {
    inbox: RedisPushInbox;
    /** Called once the blocking read must end (the inbox's blocking connection closed). */
    interrupt(): void;
  },
): PushRoutingHandle {
  const { inbox, logger } = deps;
  const consumer = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  let closed = false;

  async function handle(entry: QueuedPush): Promise<void> {
    const log = { deliveryId: entry.deliveryId, attempt: entry.attempt };
    let routed: RoutedPush;
    try {
      routed = await routeQueuedPush(deps, entry);
    } catch (err) {
      routed = { outcome: 'retry', builds: [], skipped: [], message: errorMessage(err) };
    }
    if (routed.outcome === 'retry') {
      if (entry.attempt < MAX_ROUTING_ATTEMPTS) {
        // Left pending: taken over again once stale, by this worker or another.
        pushesRouted.inc({ outcome: 'retry' });
        logger.warn(
          { ...log, builds: routed.builds },
          `routing a GitHub push failed; it will be retried: ${routed.message}`,
        );
        return;
      }
      pushesRouted.inc({ outcome: 'abandoned' });
      logger.error(
        { ...log, builds: routed.builds },
        `gave up routing a GitHub push after ${entry.attempt} attempts: ${routed.message}`,
      );
    } else {
      pushesRouted.inc({ outcome: routed.outcome });
      if (routed.outcome === 'rejected')
        logger.warn(log, `a recorded GitHub push is not a valid push and starts no build: ${routed.message}`);
      else
        logger.info(
          { ...log, builds: routed.builds, skipped: routed.skipped },
          `GitHub push routed: ${routed.builds.length} build(s) started`,
        );
    }
    await inbox.done(entry.entryId);
  }

  // Closing must not wait on Redis: a read blocked on a connection that is reconnecting
  // (Redis restarting) is never settled by disconnect(). Every wait in the loop races this.
  let stop: () => void = () => undefined;
  const stopped = new Promise<undefined>((resolve) => {
    stop = () => resolve(undefined);
  });
  const untilClosed = <T>(p: Promise<T>): Promise<T | undefined> => Promise.race([p, stopped]);

  async function loop(): Promise<void> {
    let lastStaleCheck = 0;
    while (!closed) {
      try {
        let entries: QueuedPush[] = [];
        if (Date.now() - lastStaleCheck > READ_BLOCK_MS) {
          lastStaleCheck = Date.now();
          entries = (await untilClosed(inbox.takeOverStale(consumer, BATCH))) ?? [];
        }
        if (entries.length === 0 && !closed)
          entries = (await untilClosed(inbox.read(consumer, BATCH, READ_BLOCK_MS))) ?? [];
        // Entries read as this worker closes stay pending: another worker takes them over.
        for (const entry of entries) if (!closed) await handle(entry);
      } catch (err) {
        if (closed) break;
        logger.warn({ err }, 'could not read the push inbox; trying again in 1 s');
        await untilClosed(new Promise((r) => setTimeout(r, 1000)));
        // A Redis that lost its data (restarted without persistence) lost the group too.
        if (errorMessage(err).includes('NOGROUP'))
          await untilClosed(inbox.ensureGroup().catch(() => undefined));
      }
    }
  }

  const running = untilClosed(inbox.ensureGroup()).then(
    () => (closed ? undefined : loop()),
    (err: unknown) => {
      logger.error({ err }, 'could not open the push inbox: GitHub org pushes are not routed by this worker');
    },
  );
  return {
    consumer,
    close: async () => {
      closed = true;
      stop();
      deps.interrupt();
      // A push being routed finishes (its own Redis calls give up after their retries).
      await running;
      const gaveUp = new Promise((r) => setTimeout(r, 2000).unref());
      await Promise.race([inbox.leave(consumer).catch(() => undefined), gaveUp]);
    },
  };
}
