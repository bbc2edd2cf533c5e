/**
 * Which deploy target a Slipway process uses: a Kubernetes cluster when it has one
 * (SLIPWAY_KUBECONFIG names a kubeconfig, or Slipway runs in a pod with a service
 * account), the local Docker engine otherwise — the same DeploymentConfig YAML drives
 * either.
 */
import type { SlipwayConfig } from '../core/config.js';
import { DockerTarget, type DockerTargetOptions } from './docker/docker-target.js';
import { inClusterAvailable, loadKubeConfig } from './kubernetes/kube-client.js';
import { KubernetesTarget } from './kubernetes/kubernetes-target.js';
import type { DeployTarget } from './target.js';

export type DeployTargetKind = 'kubernetes' | 'docker';

/** Pure: the target a configuration selects. */
export function deployTargetKind(
  config: Pick<SlipwayConfig, 'kubeconfig'>,
  env: NodeJS.ProcessEnv = process.env,
): DeployTargetKind {
  return config.kubeconfig || inClusterAvailable(env) ? 'kubernetes' : 'docker';
}

/** What the local target needs; the Kubernetes target needs only the configuration (and a logger). */
export type DeployTargetDeps = DockerTargetOptions & { env?: NodeJS.ProcessEnv };

/**
 * The deploy target for this configuration. A kubeconfig that cannot be read is an
 * InputError naming SLIPWAY_KUBECONFIG: Slipway does not fall back to Docker silently
 * when a cluster was asked for.
 */
export function createDeployTarget(
  config: Pick<SlipwayConfig, 'kubeconfig'> & Partial<Pick<SlipwayConfig, 'kubeDeployerHostNetwork'>>,
  deps: DeployTargetDeps,
): DeployTarget {
  const env = deps.env ?? process.env;
  if (deployTargetKind(config, env) === 'kubernetes') {
    const kubeConfig = loadKubeConfig({ kubeconfig: config.kubeconfig, env });
    return new KubernetesTarget({
      kubeConfig,
      logger: deps.logger,
      deployerHostNetwork: config.kubeDeployerHostNetwork ?? false,
    });
  }
  const { env: _env, ...docker } = deps;
  return new DockerTarget(docker);
}
