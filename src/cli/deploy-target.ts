/**
 * `slipway set deploy-target NAMESPACE docker|kubernetes` and `slipway get deploy-target
 * [NAMESPACE]`: which deploy target a namespace's DeploymentConfigs roll out to, in a
 * fleet whose workers have different targets (docs/mixed-fleets.md).
 */
import type { Command } from 'commander';
import { ApiError, type SlipwayClient } from './client.js';
import { table } from './output.js';

const KINDS = ['docker', 'kubernetes'];

export function deployTargetPath(namespace: string): string {
  return `/apis/slipway.dev/v1/namespaces/${encodeURIComponent(namespace)}/deploytarget`;
}

interface DeployTargetObject {
  metadata: { namespace: string };
  target: string | null;
}

/** The row `slipway get deploy-target` prints; "<none>" until a namespace has a record. */
export function deployTargetTable(obj: DeployTargetObject): string {
  return table([
    ['NAMESPACE', 'TARGET'],
    [obj.metadata.namespace, obj.target ?? '<none> (the first worker to roll out here records its own)'],
  ]);
}

/** `get deploy-target [NAMESPACE]` (main.ts' `get` hands this type here). */
export async function printDeployTarget(c: SlipwayClient, namespace: string, output?: string): Promise<void> {
  const obj = await c.json<DeployTargetObject>('GET', deployTargetPath(namespace));
  console.log(output === 'json' ? JSON.stringify(obj, null, 2) : deployTargetTable(obj));
}

/** The words `get` accepts for the namespace's deploy target. */
export const DEPLOY_TARGET_WORDS = ['deploy-target', 'deploytarget', 'deploytargets'];

export function registerDeployTargetCommands(
  program: Command,
  client: () => SlipwayClient,
  ns: () => string,
): void {
  const set = program.command('set').description('set a property of a namespace');
  set
    .command('deploy-target')
    .description(
      'record where a namespace deploys: docker (a worker without a cluster) or kubernetes (a worker with SLIPWAY_KUBECONFIG)',
    )
    .argument('<namespace-or-kind>', 'namespace (default: -n), or the kind alone')
    .argument('[kind]', 'docker or kubernetes')
    .action(async (first: string, second: string | undefined) => {
      const [namespace, kind] = second === undefined ? [ns(), first] : [first, second];
      if (!KINDS.includes(kind!))
        throw new ApiError(0, `error: deploy target "${kind}" is not one of: ${KINDS.join(', ')}`);
      const obj = await client().json<DeployTargetObject>('PUT', deployTargetPath(namespace!), {
        target: kind,
      });
      console.log(`namespace/${obj.metadata.namespace} deploys to ${obj.target}`);
    });
}
