/**
 * `apps/v1` Deployments and `v1` PersistentVolumeClaims, kept by the same machinery as
 * DeploymentConfigs (docs/deployments.md, "apps/v1 Deployments").
 *
 * A Deployment is rolled out through a DeploymentConfig of the same name that this
 * controller keeps (its "view", annotated `slipway.dev/deployment`): the view's spec is
 * the Deployment translated (`deploymentConfigView`), so its revisions, triggers,
 * strategies, router and `rollout` verbs are the DeploymentConfig's; the view's status is
 * copied back to the Deployment in Kubernetes' words. A claim is a named Docker volume on
 * the local target, made when the claim is and removed with it.
 */
import {
  OWNER_ANNOTATION,
  deploymentConfigView,
  deploymentStatusFrom,
  isViewOf,
  type AppsDeployment,
  type AppsDeploymentStatus,
} from '../core/apps-deployment.js';
import { withDeploymentConfigDefaults } from '../core/deploy-validation.js';
import type { DeploymentCondition, DeploymentConfig, DeploymentConfigStatus } from '../core/deploy-types.js';
import { AlreadyExistsError, NotFoundError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { lookupKind, nowTimestamp, type Resource } from '../core/resource.js';
import type { ResourceStore } from '../store/resource-store.js';
import { canonicalJson } from './deployment-config.js';
import type { ClaimVolumes } from './target.js';

export const APPS_DEPLOYMENT = lookupKind('apps/v1', 'Deployment')!;
export const PERSISTENT_VOLUME_CLAIM = lookupKind('v1', 'PersistentVolumeClaim')!;
const DEPLOYMENT_CONFIG = lookupKind('apps.openshift.io/v1', 'DeploymentConfig')!;
/** On the view: the Deployment generation its spec was made from. */
const GENERATION_ANNOTATION = 'slipway.dev/deployment-generation';

export interface AppsDeploymentDeps {
  store: ResourceStore;
  logger?: Logger;
  claims?: ClaimVolumes;
  resyncMs?: number;
}

/** Makes or updates the view of Deployment `name`; a DeploymentConfig of that name Slipway did not make is left alone. */
export async function syncDeploymentView(
  deps: AppsDeploymentDeps,
  namespace: string,
  name: string,
): Promise<void> {
  const { store } = deps;
  const d = (await store.get(APPS_DEPLOYMENT, namespace, name)) as AppsDeployment | undefined;
  if (!d) return;
  const generation = String(d.metadata.generation ?? 1);
  const existing = (await store.get(DEPLOYMENT_CONFIG, namespace, name)) as DeploymentConfig | undefined;
  if (existing && !isViewOf(existing as unknown as Resource, name)) {
    await setStatus(deps, namespace, name, (cur) => ({
      ...cur,
      conditions: [
        condition(
          'Progressing',
          'False',
          'DeploymentConfigExists',
          `DeploymentConfig "${name}" exists and was not made for this Deployment; rename one of them`,
        ),
      ],
    }));
    return;
  }
  const make = (previous: DeploymentConfig | undefined): Resource => {
    const view = withDeploymentConfigDefaults(deploymentConfigView(d, previous) as unknown as Resource);
    view.metadata.annotations = { ...view.metadata.annotations, [GENERATION_ANNOTATION]: generation };
    return view;
  };
  if (!existing) {
    try {
      await store.create(DEPLOYMENT_CONFIG, make(undefined));
      deps.logger?.info({ deployment: `${namespace}/${name}` }, 'deployment: view created');
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err; // another server made it: the next event syncs
    }
    return;
  }
  await store.update(DEPLOYMENT_CONFIG, namespace, name, (cur) => {
    if (!isViewOf(cur, name)) return undefined;
    const next = make(cur as unknown as DeploymentConfig);
    const same =
      canonicalJson(next.spec) === canonicalJson(cur.spec) &&
      canonicalJson(next.metadata.labels ?? {}) === canonicalJson(cur.metadata.labels ?? {}) &&
      cur.metadata.annotations?.[GENERATION_ANNOTATION] === generation;
    if (same) return undefined;
    return {
      ...cur,
      metadata: {
        ...cur.metadata,
        labels: next.metadata.labels ?? {},
        annotations: { ...(cur.metadata.annotations ?? {}), ...(next.metadata.annotations ?? {}) },
      },
      spec: next.spec ?? {},
    };
  });
}

function condition(
  type: DeploymentCondition['type'],
  status: DeploymentCondition['status'],
  reason: string,
  message: string,
): DeploymentCondition {
  const now = nowTimestamp();
  return { type, status, reason, message, lastUpdateTime: now, lastTransitionTime: now };
}

async function setStatus(
  deps: AppsDeploymentDeps,
  namespace: string,
  name: string,
  next: (cur: AppsDeploymentStatus) => AppsDeploymentStatus,
): Promise<void> {
  await deps.store
    .update(APPS_DEPLOYMENT, namespace, name, (cur) => {
      const before = (cur.status ?? {}) as AppsDeploymentStatus;
      const status = next(before);
      if (canonicalJson(status) === canonicalJson(before)) return undefined;
      return { ...cur, status: status as Record<string, unknown> };
    })
    .catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err; // deleted meanwhile: nothing to report on
    });
}

/** Copies the view's counts and conditions to the Deployment, in Kubernetes' words. */
export async function mirrorDeploymentStatus(deps: AppsDeploymentDeps, view: Resource): Promise<void> {
  const name = view.metadata.annotations?.[OWNER_ANNOTATION];
  if (!name || !view.metadata.namespace) return;
  const dcStatus = view.status as DeploymentConfigStatus | undefined;
  // The view has acted on its spec: the Deployment generation that spec came from is observed.
  const observed =
    (dcStatus?.observedGeneration ?? 0) >= (view.metadata.generation ?? 1)
      ? Number(view.metadata.annotations?.[GENERATION_ANNOTATION] ?? 0) || undefined
      : undefined;
  await setStatus(deps, view.metadata.namespace, name, (cur) => {
    const status = deploymentStatusFrom(dcStatus, observed ?? cur.observedGeneration);
    if (status.observedGeneration === undefined) delete status.observedGeneration;
    return status;
  });
}

export interface AppsDeploymentControllerHandle {
  resync(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Watches Deployments (their views), the views (status back to the Deployment) and
 * claims (volumes); resyncs every 30 s, as the DeploymentConfig controller does.
 */
export async function startAppsDeploymentController(
  deps: AppsDeploymentDeps,
): Promise<AppsDeploymentControllerHandle> {
  const { store } = deps;
  const chains = new Map<string, Promise<void>>();
  let stopped = false;
  const serially = (key: string, fn: () => Promise<unknown>): Promise<void> => {
    const next = (chains.get(key) ?? Promise.resolve())
      .then(async () => {
        if (!stopped) await fn();
      })
      .catch((err: unknown) =>
        deps.logger?.warn(
          { key, err: errorMessage(err) },
          'deployment controller (apps/v1): reconcile failed',
        ),
      );
    chains.set(key, next);
    void next.finally(() => {
      if (chains.get(key) === next) chains.delete(key);
    });
    return next;
  };

  const removeView = async (namespace: string, name: string): Promise<void> => {
    const view = await store.get(DEPLOYMENT_CONFIG, namespace, name);
    if (!view || !isViewOf(view, name)) return;
    // The DeploymentConfig controller deletes the view's revisions and replicas with it.
    await store.delete(DEPLOYMENT_CONFIG, namespace, name).catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
  };

  const onDeployment = (ns: string, name: string, deleted: boolean): Promise<void> =>
    serially(`deploy/${ns}/${name}`, () =>
      deleted ? removeView(ns, name) : syncDeploymentView(deps, ns, name),
    );

  const onClaim = (ns: string, name: string, deleted: boolean): Promise<void> =>
    serially(`pvc/${ns}/${name}`, async () => {
      if (!deps.claims) return;
      await (deleted ? deps.claims.remove(ns, name) : deps.claims.ensure(ns, name));
    });

  const unwatch = await store.watch((event, info) => {
    if (stopped) return;
    const { name, namespace } = event.object.metadata;
    if (!namespace) return;
    if (info.kind === 'Deployment') void onDeployment(namespace, name, event.type === 'DELETED');
    else if (info.kind === 'PersistentVolumeClaim') void onClaim(namespace, name, event.type === 'DELETED');
    else if (info.kind === 'DeploymentConfig' && event.type !== 'DELETED') {
      const owner = event.object.metadata.annotations?.[OWNER_ANNOTATION];
      if (owner)
        void serially(`status/${namespace}/${owner}`, () => mirrorDeploymentStatus(deps, event.object));
    }
  });

  const resync = async (): Promise<void> => {
    const deployments = await store.list(APPS_DEPLOYMENT);
    const have = new Set(deployments.map((d) => `${d.metadata.namespace}/${d.metadata.name}`));
    await Promise.all(deployments.map((d) => onDeployment(d.metadata.namespace!, d.metadata.name, false)));
    for (const dc of await store.list(DEPLOYMENT_CONFIG)) {
      const owner = dc.metadata.annotations?.[OWNER_ANNOTATION];
      if (!owner) continue;
      // A view whose Deployment went while no process watched.
      if (!have.has(`${dc.metadata.namespace}/${owner}`))
        await onDeployment(dc.metadata.namespace!, owner, true);
      else await serially(`status/${dc.metadata.namespace}/${owner}`, () => mirrorDeploymentStatus(deps, dc));
    }
    if (deps.claims) {
      const claims = await store.list(PERSISTENT_VOLUME_CLAIM);
      const keys = new Set(claims.map((c) => `${c.metadata.namespace}/${c.metadata.name}`));
      await Promise.all(claims.map((c) => onClaim(c.metadata.namespace!, c.metadata.name, false)));
      await deps.claims.prune((ns, claim) => keys.has(`${ns}/${claim}`));
    }
  };
  await resync().catch((err: unknown) =>
    deps.logger?.warn({ err: errorMessage(err) }, 'deployment controller (apps/v1): resync failed'),
  );
  const timer = setInterval(
    () =>
      void resync().catch((err: unknown) =>
        deps.logger?.warn({ err: errorMessage(err) }, 'deployment controller (apps/v1): resync failed'),
      ),
    deps.resyncMs ?? 30_000,
  );
  return {
    resync,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await unwatch();
      await Promise.all([...chains.values()]);
    },
  };
}
