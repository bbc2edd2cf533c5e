/**
 * Recreate (OpenShift's semantics): pre hook → the serving revision to 0 → mid hook →
 * the new revision to 1 replica, which must become ready (acceptance) → to full scale,
 * all ready → post hook. `recreateParams.timeoutSeconds` (600) bounds each wait.
 */
import { RECREATE_TIMEOUT_DEFAULT } from '../core/deploy-types.js';
import { waitForRevision, type Strategy, type StrategyContext } from './strategy.js';

/** Scales `ctx.to` to 1, waits for it to be ready, then to desired, waits for all ready. */
export async function scaleUpWithAcceptance(ctx: StrategyContext, timeoutSeconds: number): Promise<void> {
  const { target, to, desiredReplicas, signal } = ctx;
  const ns = to.metadata.namespace!;
  if (desiredReplicas === 0) {
    await target.scaleRevision(ns, to.metadata.name, 0, { signal });
    return;
  }
  ctx.log(`Scaling ${to.metadata.name} to 1`);
  await target.scaleRevision(ns, to.metadata.name, Math.max(1, Math.min(to.spec.replicas, desiredReplicas)), {
    signal,
  });
  await waitForRevision(ctx, to, {
    timeoutSeconds,
    what: 'the first replica did not become ready',
    accept: (s) => s.ready >= 1,
  });
  await ctx.progress();
  if (desiredReplicas > 1) {
    ctx.log(`Scaling ${to.metadata.name} to ${desiredReplicas}`);
    await target.scaleRevision(ns, to.metadata.name, desiredReplicas, { signal });
  }
  await waitForRevision(ctx, to, {
    timeoutSeconds,
    what: 'the replicas did not all become ready',
    accept: (s) => s.ready >= desiredReplicas,
  });
  await ctx.progress();
}

export const recreateStrategy: Strategy = {
  type: 'Recreate',
  async deploy(ctx) {
    const params = ctx.config.spec.strategy?.recreateParams ?? {};
    const timeout = params.timeoutSeconds ?? RECREATE_TIMEOUT_DEFAULT;
    await ctx.runHook(params.pre, 'pre');
    if (ctx.from && ctx.from.spec.replicas > 0) {
      ctx.log(`Scaling ${ctx.from.metadata.name} down to 0`);
      await ctx.target.scaleRevision(ctx.from.metadata.namespace!, ctx.from.metadata.name, 0, {
        signal: ctx.signal,
      });
      await ctx.progress();
    }
    await ctx.runHook(params.mid, 'mid');
    await scaleUpWithAcceptance(ctx, timeout);
    await ctx.runHook(params.post, 'post');
  },
};
