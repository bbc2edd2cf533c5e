/**
 * Which deploy target a Slipway process uses: a Kubernetes cluster when it has one
 * (SLIPWAY_KUBECONFIG names a kubeconfig, or Slipway runs in a pod with a service
 * account), the local Docker engine otherwise — the same DeploymentConfig YAML drives
 * either.
 */
import type { Redis } from 'ioredis';
import type { SlipwayConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { DockerTarget, type DockerTargetOptions } from './docker/docker-target.js';
import { ReplicaReconciler } from './docker/reconciler.js';
import { ReplicaMonitor } from './docker/replica-monitor.js';
import { updateAnnotatedDeployments } from './kubernetes/image-triggers.js';
import { inClusterAvailable, loadKubeConfig } from './kubernetes/kube-client.js';
import { KubernetesTarget, type KubernetesTargetOptions } from './kubernetes/kubernetes-target.js';
import type { DeployTarget, LocalControllers, TagUpdate } from './target.js';

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
    return new ClusterTarget({
      kubeConfig,
      logger: deps.logger,
      deployerHostNetwork: config.kubeDeployerHostNetwork ?? false,
    });
  }
  const { env: _env, ...docker } = deps;
  return new LocalTarget(docker);
}

/** The cluster target as a Slipway process runs it: annotated apps/v1 Deployments follow tags too. */
class ClusterTarget extends KubernetesTarget {
  private readonly log: Logger | undefined;

  constructor(options: KubernetesTargetOptions) {
    super(options);
    this.log = options.logger;
  }

  async onImageStreamTagUpdated(update: TagUpdate): Promise<void> {
    const stream = `${update.namespace}/${update.stream}:${update.tag}`;
    const result = await updateAnnotatedDeployments({
      kubeConfig: this.clients.kubeConfig,
      namespace: update.namespace,
      imageStreamTag: `${update.stream}:${update.tag}`,
      image: update.dockerImageReference,
    }).catch((err: unknown) => ({ updated: [], errors: [String(err)] }));
    for (const e of result.errors) this.log?.warn({ stream }, e);
  }
}

/** The local target as a Slipway process runs it: readiness and replica healing are this process's job. */
class LocalTarget extends DockerTarget {
  constructor(private readonly options: DockerTargetOptions) {
    super(options);
  }

  startLocalControllers(deps: { redis: Redis; prefix: string }): LocalControllers {
    const { docker, store, states, logger } = this.options;
    const monitor = new ReplicaMonitor({ docker, store, states, logger, ...deps });
    const reconciler = new ReplicaReconciler({ docker, target: this, store, logger });
    monitor.start();
    reconciler.start();
    return {
      stop: async () => {
        await reconciler.stop();
        await monitor.stop();
      },
    };
  }
}
