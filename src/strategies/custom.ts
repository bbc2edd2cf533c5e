/**
 * Custom (OpenShift's customParams deployer, the seeds' customPod): a pod from
 * `customParams.image` runs `command` with `environment`, plus OPENSHIFT_DEPLOYMENT_NAME
 * and OPENSHIFT_DEPLOYMENT_NAMESPACE, and the means to do the rollout itself: locally a
 * short-lived token scoped to this DeploymentConfig's revisions and the API URL
 * (SLIPWAY_API_URL, SLIPWAY_TOKEN; on the local target the URL is `http://slipway-api:PORT`,
 * a relay on the namespace's network, for the pod never runs on the host's network); it scales revisions through
 * `PUT /api/v1/namespaces/{ns}/replicationcontrollers/{name}/scale`. Its exit code decides.
 */
import { SecretMasker } from '../core/redact.js';
import { DeploymentFailure, type Strategy, type StrategyContext } from './strategy.js';
import { ROLLOUT_POD_LABELS } from './target.js';

/** How long the deployer's token lives when the strategy sets no activeDeadlineSeconds. */
export const CUSTOM_TOKEN_TTL_SECONDS = 3600;

/** Runs the deployer pod with the Custom environment; throws CustomDeployerFailed on a non-zero exit. */
async function runDeployerPod(
  ctx: StrategyContext,
  image: string,
  extraEnv: { name: string; value: string }[],
): Promise<void> {
  const { to, from, config } = ctx;
  const params = config.spec.strategy?.customParams ?? {};
  const ttl = config.spec.strategy?.activeDeadlineSeconds ?? CUSTOM_TOKEN_TTL_SECONDS;
  const access = await ctx.issueApiAccess(ttl);
  const masker = new SecretMasker();
  masker.add(access.token);
  const ns = to.metadata.namespace!;
  const env = [
    ...(params.environment ?? []),
    { name: 'OPENSHIFT_DEPLOYMENT_NAME', value: to.metadata.name },
    { name: 'OPENSHIFT_DEPLOYMENT_NAMESPACE', value: ns },
    { name: 'SLIPWAY_DEPLOYMENT_CONFIG', value: config.metadata.name },
    { name: 'SLIPWAY_DESIRED_REPLICAS', value: String(ctx.desiredReplicas) },
    { name: 'SLIPWAY_PREVIOUS_DEPLOYMENT', value: from?.metadata.name ?? '' },
    ...extraEnv,
  ];
  ctx.log(`Running the custom deployer ${image}`);
  const result = await ctx.target.runPod(
    {
      namespace: ns,
      name: `${to.metadata.name}-deploy`,
      image,
      ...(params.command?.length ? { command: params.command } : {}),
      env,
      ...(config.spec.strategy?.resources ? { resources: config.spec.strategy.resources } : {}),
      labels: { deployment: to.metadata.name, [ROLLOUT_POD_LABELS.deployerFor]: to.metadata.name },
      apiAccess: { ...access, serviceAccountName: 'deployer' },
    },
    { signal: ctx.signal },
  );
  // The deployer's token is a secret like any other: a deployer that prints it leaves `***`
  // in the rollout log and the failure message.
  const logs = masker.mask(result.logs);
  for (const line of logs.split('\n').filter(Boolean)) ctx.log(`deployer: ${line}`);
  if (result.exitCode !== 0) {
    const last = logs.trim().split('\n').pop() ?? '';
    throw new DeploymentFailure(
      'CustomDeployerFailed',
      `the custom deployer for ${to.metadata.name} exited ${result.exitCode}${last ? `: ${last}` : ''}`,
    );
  }
}

export const customStrategy: Strategy = {
  type: 'Custom',
  async deploy(ctx) {
    const image = ctx.config.spec.strategy?.customParams?.image;
    if (!image)
      throw new DeploymentFailure('CustomDeployerFailed', 'a Custom strategy needs customParams.image');
    await runDeployerPod(ctx, image, []);
  },
};

/**
 * customParams around Rolling or Recreate (OpenShift's "inject custom logic into the
 * existing strategies"): the deployer pod runs `customParams.command` (in
 * `customParams.image`, or the template's image) with the same environment and token as
 * Custom, plus SLIPWAY_STRATEGY; where OpenShift's command calls `openshift-deploy
 * [--until=50%]`, Slipway's calls `POST …/deploymentconfigs/{name}/deploy` with
 * `{"until": "50%"}`, which runs the built-in strategy that far and answers when it got
 * there. When the command exits 0 Slipway finishes the strategy (each hook runs once);
 * a non-zero exit fails the rollout.
 */
export function withCustomParams(inner: Strategy): Strategy {
  return {
    type: inner.type,
    async deploy(ctx) {
      const params = ctx.config.spec.strategy?.customParams ?? {};
      const image = params.image || ctx.to.spec.template.spec.containers[0]?.image;
      if (!image)
        throw new DeploymentFailure(
          'CustomDeployerFailed',
          'customParams.image is empty and the template has no image to use instead',
        );
      // Steps may repeat the strategy from the start: a hook runs only the first time.
      const ran = new Set<string>();
      const once: StrategyContext = {
        ...ctx,
        runHook: async (hook, stage) => {
          if (ran.has(stage)) return;
          ran.add(stage);
          await ctx.runHook(hook, stage);
        },
      };
      const stop = ctx.serveDeployerSteps?.(async (until) => {
        ctx.log(`deployer asked to deploy${until === undefined ? '' : ` until ${until}%`}`);
        await inner.deploy(until === undefined ? once : { ...once, until });
      });
      try {
        await runDeployerPod(ctx, image, [{ name: 'SLIPWAY_STRATEGY', value: inner.type }]);
      } finally {
        await stop?.();
      }
      const { until: _until, ...rest } = once;
      await inner.deploy(rest);
    },
  };
}
