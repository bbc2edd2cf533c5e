/**
 * Rolling (OpenShift's default): the new revision is scaled up and the serving one down
 * in steps bounded by maxSurge (extra replicas allowed) and maxUnavailable (replicas that
 * may be missing), progress gated by readiness: old replicas go only as new ones become
 * available. No progress for `timeoutSeconds` (600) fails the rollout, and the controller
 * then scales the old revision back to full. The first rollout, with nothing to roll
 * from, scales up as Recreate does (OpenShift delegates it the same way).
 */
import { rollingParamsWithDefaults } from '../core/deploy-types.js';
import { scaleUpWithAcceptance } from './recreate.js';
import { resolveFenceposts, scaleDownTarget, scaleUpTarget } from './rolling-math.js';
import { DeploymentFailure, sleep, waitForRevision, type Strategy } from './strategy.js';

export const rollingStrategy: Strategy = {
  type: 'Rolling',
  async deploy(ctx) {
    const params = rollingParamsWithDefaults(ctx.config.spec.strategy?.rollingParams);
    const { target, to, from, desiredReplicas: desired, signal } = ctx;
    const ns = to.metadata.namespace!;
    await ctx.runHook(params.pre, 'pre');
    if (!from) {
      await scaleUpWithAcceptance(ctx, params.timeoutSeconds);
      await ctx.runHook(params.post, 'post');
      return;
    }
    const fence = resolveFenceposts(params.maxSurge, params.maxUnavailable, desired);
    ctx.log(
      `Rolling ${from.metadata.name} → ${to.metadata.name}: ${desired} replicas, maxSurge ${fence.maxSurge}, maxUnavailable ${fence.maxUnavailable}`,
    );
    let oldReplicas = (await target.getRevision(ns, from.metadata.name))?.spec.replicas ?? 0;
    let newReplicas = (await target.getRevision(ns, to.metadata.name))?.spec.replicas ?? 0;
    let deadline = Date.now() + params.timeoutSeconds * 1000;
    const untilCount = ctx.until === undefined ? undefined : Math.ceil((desired * ctx.until) / 100);
    while (newReplicas !== desired || oldReplicas !== 0) {
      let moved = false;
      const up = scaleUpTarget({ desired, oldReplicas, newReplicas, newAvailable: 0 }, fence);
      if (up !== newReplicas) {
        ctx.log(`Scaling ${to.metadata.name} up to ${up}`);
        await target.scaleRevision(ns, to.metadata.name, up, { signal });
        newReplicas = up;
        moved = true;
      }
      await sleep(params.updatePeriodSeconds * 1000, signal);
      const status = await target.revisionStatus(ns, to.metadata.name);
      const down = scaleDownTarget(
        { desired, oldReplicas, newReplicas, newAvailable: status.available },
        fence,
      );
      if (down !== oldReplicas) {
        ctx.log(
          `Scaling ${from.metadata.name} down to ${down} (${status.available} of ${newReplicas} new available)`,
        );
        await target.scaleRevision(ns, from.metadata.name, down, { signal });
        oldReplicas = down;
        moved = true;
      }
      if (untilCount !== undefined && newReplicas >= untilCount && status.available >= untilCount) {
        ctx.log(
          `${to.metadata.name} has ${status.available} of ${desired} replicas available: stopping at ${ctx.until}% as asked`,
        );
        return;
      }
      if (moved) {
        deadline = Date.now() + params.timeoutSeconds * 1000;
        await ctx.progress();
        continue;
      }
      if (Date.now() > deadline) {
        const why = [...status.failures, ...(status.notReady ?? [])];
        throw new DeploymentFailure(
          'ProgressDeadlineExceeded',
          `${to.metadata.name} made no progress for ${params.timeoutSeconds}s: ${status.available} of ${newReplicas} new replicas available${why.length ? ` (${why.join('; ')})` : ''}`,
        );
      }
      await sleep(params.intervalSeconds * 1000, signal);
    }
    // Complete means serving: wait until the new revision has its minimum availability.
    const minAvailable = Math.max(0, desired - fence.maxUnavailable);
    await waitForRevision(ctx, to, {
      timeoutSeconds: params.timeoutSeconds,
      what: 'the new replicas did not become available',
      accept: (s) => s.available >= minAvailable,
    });
    await ctx.runHook(params.post, 'post');
  },
};
