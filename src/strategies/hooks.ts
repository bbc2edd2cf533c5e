/**
 * Lifecycle hooks (`pre`, `mid`, `post`), OpenShift's semantics: `execNewPod` runs a pod
 * from a template container's image with the hook's command and env (plus the
 * container's env) and the named volumes; `tagImages` tags a container's image into an
 * ImageStream. `failurePolicy`: Abort fails the rollout, Ignore logs and goes on, and
 * Retry tries again — at most HOOK_RETRY_ATTEMPTS times in all, 1 s, 2 s, 4 s, 8 s
 * apart (OpenShift retries forever; a bound was what its users asked for).
 */
import type { EnvVar } from '../core/build-types.js';
import type { DeploymentConfig, LifecycleHook } from '../core/deploy-types.js';
import { errorMessage } from '../core/errors.js';
import type { ResourceStore } from '../store/resource-store.js';
import { recordImageStreamTag } from '../registry/image-streams.js';
import { parseImageReference } from '../registry/references.js';
import { DeploymentFailure, sleep } from './strategy.js';
import {
  REVISION_LABELS,
  ROLLOUT_POD_LABELS,
  type DeployTarget,
  type ReplicationController,
} from './target.js';

export const HOOK_RETRY_ATTEMPTS = 5;

export interface HookDeps {
  target: DeployTarget;
  store: ResourceStore;
  config: DeploymentConfig;
  to: ReplicationController;
  signal: AbortSignal;
  log(line: string): void;
  /** Backoff before retry n (1-based); tests shorten it. */
  retryDelayMs?: (attempt: number) => number;
}

/** Env of a hook pod: the container's, then the hook's (which wins), then OpenShift's two. */
export function hookEnv(containerEnv: EnvVar[], hookEnv: EnvVar[], rc: ReplicationController): EnvVar[] {
  const merged = new Map<string, EnvVar>();
  for (const e of [...containerEnv, ...hookEnv]) merged.set(e.name, e);
  merged.set('OPENSHIFT_DEPLOYMENT_NAME', { name: 'OPENSHIFT_DEPLOYMENT_NAME', value: rc.metadata.name });
  merged.set('OPENSHIFT_DEPLOYMENT_NAMESPACE', {
    name: 'OPENSHIFT_DEPLOYMENT_NAMESPACE',
    value: rc.metadata.namespace ?? 'default',
  });
  return [...merged.values()];
}

async function execNewPod(
  deps: HookDeps,
  hook: NonNullable<LifecycleHook['execNewPod']>,
  stage: string,
  attempt: number,
): Promise<void> {
  const { to } = deps;
  const container = to.spec.template.spec.containers.find((c) => c.name === hook.containerName);
  if (!container?.image)
    throw new DeploymentFailure(
      'HookFailed',
      `${stage} hook: container "${hook.containerName}" is not in the template of ${to.metadata.name}`,
    );
  const wanted = new Set(hook.volumes ?? []);
  const volumes = (to.spec.template.spec.volumes ?? []).filter((v) => wanted.has(v.name));
  const missing = [...wanted].filter((n) => !volumes.some((v) => v.name === n));
  if (missing.length > 0)
    throw new DeploymentFailure(
      'HookFailed',
      `${stage} hook: volume(s) ${missing.join(', ')} are not in the pod template`,
    );
  const mounts = (container.volumeMounts ?? []).filter((m) => wanted.has(m.name));
  const resources = deps.config.spec.strategy?.resources ?? container.resources;
  const result = await deps.target.runPod(
    {
      namespace: to.metadata.namespace!,
      name: `${to.metadata.name}-hook-${stage}${attempt > 1 ? `-${attempt}` : ''}`,
      image: container.image,
      command: hook.command,
      env: hookEnv(container.env ?? [], hook.env ?? [], to),
      volumes,
      volumeMounts: mounts,
      ...(resources ? { resources } : {}),
      labels: { [REVISION_LABELS.deployment]: to.metadata.name, [ROLLOUT_POD_LABELS.hook]: stage },
    },
    { signal: deps.signal },
  );
  for (const line of result.logs.split('\n').filter(Boolean)) deps.log(`${stage} hook: ${line}`);
  if (result.exitCode !== 0) {
    const last = result.logs.trim().split('\n').pop() ?? '';
    throw new DeploymentFailure(
      'HookFailed',
      `${stage} hook for ${to.metadata.name} failed: exit code ${result.exitCode}${last ? `: ${last}` : ''}`,
    );
  }
}

async function tagImages(
  deps: HookDeps,
  tags: NonNullable<LifecycleHook['tagImages']>,
  stage: string,
): Promise<void> {
  const ns = deps.to.metadata.namespace!;
  for (const t of tags) {
    const image = deps.to.spec.template.spec.containers.find((c) => c.name === t.containerName)?.image;
    if (!image)
      throw new DeploymentFailure(
        'HookFailed',
        `${stage} hook: container "${t.containerName}" is not in the template`,
      );
    const [stream, tag] = t.to.name.split(':');
    if ((t.to.kind ?? 'ImageStreamTag') !== 'ImageStreamTag' || !stream || !tag) {
      throw new DeploymentFailure(
        'HookFailed',
        `${stage} hook: tagImages "to" must be an ImageStreamTag NAME:TAG, not "${t.to.name}"`,
      );
    }
    const ref = parseImageReference(image);
    if (!ref.digest) {
      throw new DeploymentFailure(
        'HookFailed',
        `${stage} hook: tagImages needs an image by digest (from an ImageStream or registry), and "${image}" is by tag`,
      );
    }
    await recordImageStreamTag({
      store: deps.store,
      namespace: t.to.namespace ?? ns,
      name: stream,
      tag,
      digest: ref.digest,
      repository: image.slice(0, image.indexOf('@')),
    });
    deps.log(`${stage} hook: tagged ${image} as ${t.to.name}`);
  }
}

/** Runs one hook with its failure policy (see the file comment). */
export async function runLifecycleHook(
  deps: HookDeps,
  hook: LifecycleHook | null | undefined,
  stage: 'pre' | 'mid' | 'post',
): Promise<void> {
  if (!hook) return;
  const attempts = hook.failurePolicy === 'Retry' ? HOOK_RETRY_ATTEMPTS : 1;
  const delay = deps.retryDelayMs ?? ((n: number) => 1000 * 2 ** (n - 1));
  for (let attempt = 1; ; attempt++) {
    try {
      deps.log(`Running ${stage} hook${attempts > 1 ? ` (attempt ${attempt}/${attempts})` : ''}`);
      if (hook.execNewPod) await execNewPod(deps, hook.execNewPod, stage, attempt);
      if (hook.tagImages?.length) await tagImages(deps, hook.tagImages, stage);
      return;
    } catch (err) {
      if (deps.signal.aborted) throw err;
      const message =
        err instanceof DeploymentFailure
          ? err.message
          : `${stage} hook for ${deps.to.metadata.name} failed: ${errorMessage(err)}`;
      if (hook.failurePolicy === 'Ignore') {
        deps.log(`${message} (failurePolicy Ignore: continuing)`);
        return;
      }
      if (attempt >= attempts) {
        throw new DeploymentFailure(
          'HookFailed',
          attempts > 1 ? `${message} (after ${attempts} attempts)` : message,
          { cause: err },
        );
      }
      deps.log(`${message}; retrying`);
      await sleep(delay(attempt), deps.signal);
    }
  }
}
