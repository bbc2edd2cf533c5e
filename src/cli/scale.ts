/**
 * `slipway scale dc/NAME --replicas=N`, as `oc scale`: sets the DeploymentConfig's
 * spec.replicas through the API; the controller scales the serving revision (a scale is
 * not a rollout).
 */
import type { Command } from 'commander';
import type { DeploymentConfigSpec } from '../core/deploy-types.js';
import type { SlipwayClient } from './client.js';
import { configTarget, editResource, fail, qualifiedName } from './edit.js';

/** The most replicas `scale` sets in one go: a typo of 1000 should not start 1000 containers. */
export const MAX_SCALE_REPLICAS = 100;

export function parseReplicas(value: string | undefined): number {
  if (value === undefined) fail('scale needs --replicas=N');
  if (!/^\d{1,9}$/.test(value)) fail(`--replicas "${value}" is not a whole number of replicas`);
  const n = Number(value);
  if (n > MAX_SCALE_REPLICAS)
    fail(`--replicas ${n} is more than ${MAX_SCALE_REPLICAS}; scale in smaller steps or edit spec.replicas`);
  return n;
}

export function registerScaleCommands(
  program: Command,
  client: () => SlipwayClient,
  namespace: () => string,
): void {
  program
    .command('scale')
    .description('set the number of replicas of a deployment config: scale dc/NAME --replicas=N')
    .argument('<target>', 'dc/NAME')
    .option('--replicas <n>', 'the number of replicas')
    .action(async (target: string, opts: { replicas?: string }) => {
      const { info, name } = configTarget(target, ['dc']);
      const replicas = parseReplicas(opts.replicas);
      const { changed } = await editResource(client(), info, namespace(), name, (obj) => {
        const spec = obj.spec as DeploymentConfigSpec;
        if (spec.replicas === replicas) return false;
        spec.replicas = replicas;
        return true;
      });
      console.log(`${qualifiedName(info, name)} ${changed ? 'scaled' : `already has ${replicas} replicas`}`);
    });
}
