/**
 * One rollout, from New to Complete or Failed: revision N of a DeploymentConfig, run by
 * whichever worker took its job. It waits for older rollouts to end (a newer one cancels
 * them), runs the strategy with an AbortSignal that fires on cancel, supersession or
 * worker shutdown, then either scales the older revisions to 0 and prunes history, or —
 * on failure — scales the last complete revision back to full before the failed one
 * goes to 0 (OpenShift's automatic rollback), and records phases and conditions.
 *
 * Re-entrant: a rollout whose worker died resumes where the replicas are, since the
 * strategies step from observed counts.
 */
import type { DeploymentConfig, DeploymentConfigStatus, DeploymentReason } from '../core/deploy-types.js';
import { RECREATE_TIMEOUT_DEFAULT, rollingParamsWithDefaults } from '../core/deploy-types.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { lookupKind } from '../core/resource.js';
import type { BuildLogStore } from '../store/build-logs.js';
import type { ResourceStore } from '../store/resource-store.js';
import {
  decodeRevisionConfig,
  removeCondition,
  revisionsToPrune,
  setCondition,
} from './deployment-config.js';
import { withCustomParams } from './custom.js';
import { decideRolloutStart, rolloutSupersededBy } from './rollout-decisions.js';
import type { DeployerSteps } from './deployer-steps.js';
import { runLifecycleHook } from './hooks.js';
import { STRATEGIES } from './index.js';
import { patientTarget } from './patient-target.js';
import { resolveFenceposts } from './rolling-math.js';
import { DeploymentFailure, sleep, type StrategyContext } from './strategy.js';
import {
  REVISION_ANNOTATIONS,
  revisionName,
  revisionPhase,
  revisionVersion,
  type DeployTarget,
  type ReplicationController,
  type RevisionPhase,
} from './target.js';

export const DEPLOYMENT_CONFIG = lookupKind('apps.openshift.io/v1', 'DeploymentConfig')!;

export interface RolloutDeps {
  store: ResourceStore;
  target: DeployTarget;
  /** Rollout logs, one per revision (`web-3`), kept like build logs. */
  logs: BuildLogStore;
  logger: Logger;
  /** Mints a token with `scope` living `ttlSeconds` (TokenStore.add). */
  issueToken(scope: string, ttlSeconds: number): Promise<string>;
  /** Revokes every token minted with `scope` (TokenStore.revokeScope): the rollout's deployer is done. */
  revokeTokens?(scope: string): Promise<unknown>;
  /** The API URL a Custom deployer is given; undefined when this process has none. */
  apiUrl(): string | undefined;
  /** Backoff between Retry hook attempts; tests shorten it. */
  hookRetryDelayMs?: (attempt: number) => number;
  /** How often a running rollout checks for cancellation. */
  cancelPollMs?: number;
  /** Deploy-step requests of deployer pods (customParams around Rolling/Recreate). */
  steps?: DeployerSteps;
}

export interface RunRolloutOptions {
  namespace: string;
  name: string;
  version: number;
  /** The worker's: fires on shutdown, when the rollout is left for another worker to resume. */
  signal: AbortSignal;
}

export type RolloutOutcome = { kind: 'finished'; phase: RevisionPhase } | { kind: 'waiting'; reason: string };

/** Why a rollout's signal fired. */
export class RolloutCancelled extends Error {
  constructor(readonly statusReason: string) {
    super(statusReason);
    this.name = this.constructor.name;
  }
}

/** The scope of a Custom deployer's token: this DeploymentConfig's revisions only. */
export function deployerScope(namespace: string, name: string): string {
  return `deployer:${namespace}/${name}`;
}

/** The revision serving now: the newest Complete one older than `version`. */
export function servingRevision(
  revisions: ReplicationController[],
  version: number,
): ReplicationController | undefined {
  return revisions
    .filter((r) => revisionVersion(r) < version && revisionPhase(r) === 'Complete')
    .sort((a, b) => revisionVersion(b) - revisionVersion(a))[0];
}

function maxUnavailableOf(dc: DeploymentConfig, desired: number): number {
  const s = dc.spec.strategy;
  if ((s?.type ?? 'Rolling') !== 'Rolling') return 0;
  const p = rollingParamsWithDefaults(s?.rollingParams);
  return resolveFenceposts(p.maxSurge, p.maxUnavailable, desired).maxUnavailable;
}

/**
 * How long the rollout waits for an unreachable target (an engine restarting): the
 * strategy's timeoutSeconds, the time it allows without progress (600 s by default).
 */
function targetWaitSeconds(dc: DeploymentConfig): number {
  const s = dc.spec.strategy;
  if (s?.type === 'Recreate') return s.recreateParams?.timeoutSeconds ?? RECREATE_TIMEOUT_DEFAULT;
  return rollingParamsWithDefaults(s?.rollingParams).timeoutSeconds;
}

/** Recomputes the DeploymentConfig's replica counts and its Available/ReplicaFailure conditions. */
export async function refreshConfigStatus(
  deps: Pick<RolloutDeps, 'store' | 'target'>,
  namespace: string,
  name: string,
): Promise<void> {
  const dc = (await deps.store.get(DEPLOYMENT_CONFIG, namespace, name)) as DeploymentConfig | undefined;
  if (!dc) return;
  const revisions = await deps.target.listRevisions(namespace, name);
  const latest = revisionName(name, dc.status?.latestVersion ?? 0);
  let replicas = 0,
    ready = 0,
    available = 0,
    updated = 0;
  const failures: string[] = [];
  for (const rc of revisions) {
    if (rc.spec.replicas === 0 && !(rc.status?.replicas ?? 0)) continue;
    const s = await deps.target.revisionStatus(namespace, rc.metadata.name).catch(() => undefined);
    if (!s) continue;
    replicas += s.current;
    ready += s.ready;
    available += s.available;
    if (rc.metadata.name === latest) updated = s.current;
    failures.push(...s.failures);
  }
  const desired = dc.spec.replicas ?? 1;
  const minAvailable = Math.max(0, desired - maxUnavailableOf(dc, desired));
  await deps.store
    .update(DEPLOYMENT_CONFIG, namespace, name, (cur) => {
      let status: DeploymentConfigStatus = {
        ...((cur.status ?? {}) as DeploymentConfigStatus),
        replicas,
        readyReplicas: ready,
        availableReplicas: available,
        unavailableReplicas: Math.max(0, desired - available),
        updatedReplicas: updated,
      };
      status =
        available >= minAvailable
          ? setCondition(status, {
              type: 'Available',
              status: 'True',
              reason: 'MinimumReplicasAvailable',
              message: 'Deployment config has minimum availability.',
            })
          : setCondition(status, {
              type: 'Available',
              status: 'False',
              reason: 'MinimumReplicasUnavailable',
              message: 'Deployment config does not have minimum availability.',
            });
      status =
        failures.length > 0
          ? setCondition(status, {
              type: 'ReplicaFailure',
              status: 'True',
              reason: 'FailedCreate',
              message: failures.join('; '),
            })
          : removeCondition(status, 'ReplicaFailure');
      const before = JSON.stringify({
        ...(cur.status ?? {}),
        conditions: (cur.status as DeploymentConfigStatus | undefined)?.conditions?.map((c) => ({
          ...c,
          lastUpdateTime: '',
        })),
      });
      const after = JSON.stringify({
        ...status,
        conditions: status.conditions?.map((c) => ({ ...c, lastUpdateTime: '' })),
      });
      if (before === after) return undefined;
      return { ...cur, status: status as Record<string, unknown> };
    })
    .catch(() => undefined); // deleted meanwhile
}

async function setProgressing(
  deps: RolloutDeps,
  namespace: string,
  name: string,
  status: 'True' | 'False',
  reason: DeploymentReason,
  message: string,
): Promise<void> {
  await deps.store
    .update(DEPLOYMENT_CONFIG, namespace, name, (cur) => ({
      ...cur,
      status: setCondition((cur.status ?? {}) as DeploymentConfigStatus, {
        type: 'Progressing',
        status,
        reason,
        message,
      }) as Record<string, unknown>,
    }))
    .catch(() => undefined);
}

/** Runs (or resumes, or declines to run yet) rollout `version` of a DeploymentConfig. */
export async function runRollout(deps: RolloutDeps, options: RunRolloutOptions): Promise<RolloutOutcome> {
  const { store, target, logs } = deps;
  const { namespace: ns, name, version } = options;
  const rcName = revisionName(name, version);
  const dc = (await store.get(DEPLOYMENT_CONFIG, ns, name)) as DeploymentConfig | undefined;
  const to = await target.getRevision(ns, rcName);
  const revisions = dc && to ? await target.listRevisions(ns, name) : [];
  const start = decideRolloutStart({ dc, to, revisions, version });
  if (start.kind === 'finished') return start;
  // (Narrows the types: a missing config or revision was decided 'finished' above.)
  if (!dc || !to) return { kind: 'finished', phase: 'Failed' };
  if (start.kind === 'wait') return { kind: 'waiting', reason: start.reason };

  let pending = Promise.resolve();
  const log = (line: string): void => {
    pending = pending.then(() => logs.appendLog(ns, rcName, [line])).catch(() => undefined);
  };
  if (start.kind === 'cancel') {
    await finishFailed(deps, {
      dc,
      to,
      from: servingRevision(revisions, version),
      log,
      reason: 'RolloutCancelled',
      message: `rollout of ${rcName} cancelled: ${start.reason}`,
      statusReason: start.reason,
      signal: options.signal,
    });
    await pending;
    return { kind: 'finished', phase: 'Failed' };
  }

  const from = servingRevision(revisions, version);
  const config = decodeRevisionConfig(to) ?? dc;
  const type = config.spec.strategy?.type ?? 'Rolling';
  const custom = config.spec.strategy?.customParams;
  // customParams with a command or image around Rolling/Recreate: the deployer pod drives the built-in strategy.
  const strategy =
    type !== 'Custom' && (custom?.command?.length || custom?.image)
      ? withCustomParams(STRATEGIES[type])
      : STRATEGIES[type];
  if (start.resumed) log(`Resuming the rollout of ${rcName} (its worker stopped)`);
  await target.annotateRevision(ns, rcName, { [REVISION_ANNOTATIONS.phase]: 'Running' });
  log(`Rolling out ${rcName} with the ${type} strategy${from ? ` from ${from.metadata.name}` : ''}`);
  await setProgressing(
    deps,
    ns,
    name,
    'True',
    'ReplicationControllerUpdated',
    `replication controller "${rcName}" is progressing`,
  );

  const cancel = new AbortController();
  // From here on, a target that stops answering for a while (its engine restarting) is
  // waited for, not taken for a failed rollout (src/strategies/patient-target.ts).
  const patience = { waitMs: targetWaitSeconds(config) * 1000, log };
  const patient = patientTarget(target, { ...patience, signal: cancel.signal });
  const onShutdown = (): void => cancel.abort(new Error('the worker is shutting down'));
  options.signal.addEventListener('abort', onShutdown, { once: true });
  const current = (await patient.getRevision(ns, rcName)) ?? to;
  const poll = setInterval(() => {
    void Promise.all([
      store.get(DEPLOYMENT_CONFIG, ns, name) as Promise<DeploymentConfig | undefined>,
      target.getRevision(ns, rcName),
    ]).then(
      ([d, rc]) => {
        if (cancel.signal.aborted) return;
        if (!rc || rc.metadata.annotations?.[REVISION_ANNOTATIONS.cancelled] === 'true')
          return cancel.abort(new RolloutCancelled('cancelled by the user'));
        const why = rolloutSupersededBy(d, version);
        if (why) cancel.abort(new RolloutCancelled(why));
      },
      () => undefined,
    );
  }, deps.cancelPollMs ?? 1000);

  let lastProgress = 0;
  const ctx: StrategyContext = {
    target: patient,
    config,
    to: current,
    from,
    desiredReplicas: dc.spec.replicas ?? 1,
    signal: cancel.signal,
    log,
    runHook: (hook, stage) =>
      runLifecycleHook(
        {
          target: patient,
          store,
          config,
          to,
          signal: cancel.signal,
          log,
          ...(deps.hookRetryDelayMs ? { retryDelayMs: deps.hookRetryDelayMs } : {}),
        },
        hook,
        stage,
      ),
    issueApiAccess: async (ttlSeconds) => {
      const url = deps.apiUrl();
      if (!url)
        throw new DeploymentFailure(
          'CustomDeployerFailed',
          'this worker does not know the API URL a Custom deployer needs (set SLIPWAY_PUBLIC_URL or run the worker with the server)',
        );
      const token = await deps.issueToken(deployerScope(ns, name), ttlSeconds);
      return { url, token };
    },
    ...(deps.steps
      ? {
          serveDeployerSteps: (step: (until: number | undefined) => Promise<void>) =>
            deps.steps!.serve(ns, rcName, step),
        }
      : {}),
    progress: async (message) => {
      if (message) log(message);
      // Counts are for people watching; at most one refresh a second.
      if (Date.now() - lastProgress < 1000) return;
      lastProgress = Date.now();
      await refreshConfigStatus(deps, ns, name);
    },
  };

  // Whatever the end (success, failure, cancel, shutdown), the deployer's token dies with
  // the strategy: a resumed rollout mints a new one.
  const revokeDeployerTokens = (): Promise<unknown> =>
    deps
      .revokeTokens?.(deployerScope(ns, name))
      .catch((err: unknown) =>
        deps.logger.warn({ err, rollout: `${ns}/${rcName}` }, 'could not revoke the deployer token'),
      ) ?? Promise.resolve();
  try {
    await strategy.deploy(ctx);
  } catch (err) {
    await revokeDeployerTokens();
    clearInterval(poll);
    options.signal.removeEventListener('abort', onShutdown);
    if (options.signal.aborted) {
      // Not a failure of the rollout: another worker resumes it (the job is retried).
      log('The worker is shutting down; the rollout resumes on another worker');
      await pending;
      throw new Error(`rollout ${ns}/${rcName} interrupted: the worker is shutting down`, { cause: err });
    }
    const cancelled = cancel.signal.aborted ? (cancel.signal.reason as RolloutCancelled) : undefined;
    const reason: DeploymentReason = cancelled
      ? 'RolloutCancelled'
      : err instanceof DeploymentFailure
        ? err.reason
        : 'RolloutFailed';
    const message = cancelled
      ? `rollout of ${rcName} cancelled: ${cancelled.statusReason}`
      : err instanceof DeploymentFailure
        ? err.message
        : `rollout of ${rcName} failed: ${errorMessage(err)}`;
    deps.logger.info({ rollout: `${ns}/${rcName}`, reason }, message);
    await finishFailed(deps, {
      dc,
      to,
      from,
      log,
      reason,
      message,
      statusReason: cancelled?.statusReason ?? message,
      signal: options.signal,
    });
    await pending;
    return { kind: 'finished', phase: 'Failed' };
  }
  await revokeDeployerTokens();
  clearInterval(poll);
  options.signal.removeEventListener('abort', onShutdown);
  const finishing = patientTarget(target, { ...patience, signal: options.signal });

  // Every older revision goes to 0: the new one serves alone.
  for (const rc of await finishing.listRevisions(ns, name)) {
    if (rc.metadata.name !== rcName && rc.spec.replicas > 0) {
      log(`Scaling ${rc.metadata.name} down to 0`);
      await finishing.scaleRevision(ns, rc.metadata.name, 0, { signal: options.signal });
    }
  }
  await finishing.annotateRevision(ns, rcName, {
    [REVISION_ANNOTATIONS.phase]: 'Complete',
    [REVISION_ANNOTATIONS.failureReason]: null,
    [REVISION_ANNOTATIONS.statusReason]: null,
  });
  log(`Rollout of ${rcName} complete`);
  deps.logger.info({ rollout: `${ns}/${rcName}` }, `rollout of ${ns}/${rcName} complete`);
  await setProgressing(
    deps,
    ns,
    name,
    'True',
    'NewReplicationControllerAvailable',
    `replication controller "${rcName}" successfully rolled out`,
  );
  await refreshConfigStatus(deps, ns, name);
  await pruneRevisions(deps, ns, name, rcName, options.signal);
  await pending;
  await logs.closeLog(ns, rcName, 'Complete');
  return { kind: 'finished', phase: 'Complete' };
}

interface FailInput {
  dc: DeploymentConfig;
  to: ReplicationController;
  from: ReplicationController | undefined;
  log(line: string): void;
  reason: DeploymentReason;
  message: string;
  statusReason: string;
  signal: AbortSignal;
}

/**
 * A failed or cancelled rollout: the last complete revision back to full scale first (it
 * must be ready before the failed one leaves, so nothing is dropped), then the failed
 * revision to 0, then phase Failed and the Progressing condition saying why.
 */
async function finishFailed(deps: RolloutDeps, input: FailInput): Promise<void> {
  const { target } = deps;
  const { dc, to, from, log } = input;
  const ns = to.metadata.namespace!;
  const name = dc.metadata.name;
  log(input.message);
  const desired = dc.spec.replicas ?? 1;
  try {
    if (from) {
      const current = (await target.getRevision(ns, from.metadata.name))?.spec.replicas ?? 0;
      if (current < desired) {
        log(`Rolling back: scaling ${from.metadata.name} back up to ${desired}`);
        await target.scaleRevision(ns, from.metadata.name, desired, { signal: input.signal });
        const deadline = Date.now() + 120_000;
        while (Date.now() < deadline && (await target.revisionStatus(ns, from.metadata.name)).ready < desired)
          await sleep(300, input.signal);
      }
    }
    if ((await target.getRevision(ns, to.metadata.name))?.spec.replicas) {
      log(`Scaling ${to.metadata.name} down to 0`);
      await target.scaleRevision(ns, to.metadata.name, 0, { signal: input.signal });
    }
  } catch (err) {
    log(`error while rolling back: ${errorMessage(err)}`);
  }
  await target.annotateRevision(ns, to.metadata.name, {
    [REVISION_ANNOTATIONS.phase]: 'Failed',
    [REVISION_ANNOTATIONS.statusReason]: input.statusReason,
    [REVISION_ANNOTATIONS.failureReason]: input.reason,
  });
  await setProgressing(deps, ns, name, 'False', input.reason, input.message);
  await refreshConfigStatus(deps, ns, name);
  await deps.logs.closeLog(ns, to.metadata.name, 'Failed');
}

async function pruneRevisions(
  deps: RolloutDeps,
  ns: string,
  name: string,
  serving: string,
  signal: AbortSignal,
): Promise<void> {
  const dc = (await deps.store.get(DEPLOYMENT_CONFIG, ns, name)) as DeploymentConfig | undefined;
  if (!dc) return;
  for (const rc of revisionsToPrune(dc, await deps.target.listRevisions(ns, name), serving)) {
    await deps.target.deleteRevision(ns, rc.metadata.name, { signal });
    await deps.logs.deleteLog(ns, rc.metadata.name);
  }
}
