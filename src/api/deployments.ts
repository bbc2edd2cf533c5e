/**
 * Rollout verbs over REST, OpenShift's where OpenShift has them:
 * `POST …/deploymentconfigs/{name}/instantiate` (DeploymentRequest),
 * `POST …/deploymentconfigs/{name}/rollback`, and Slipway's `cancel`, `pause`, `resume`
 * and `log`. Revisions are served from the deploy target with live counts
 * (`/api/v1/…/replicationcontrollers`), with Kubernetes' `scale` subresource, which is
 * how a Custom deployer scales them. Revisions are made by rollouts only: writing one
 * directly is refused.
 */
import { Router, type Request, type Response } from 'express';
import type { DeploymentConfig } from '../core/deploy-types.js';
import { ForbiddenError, InputError, MethodNotAllowedError, NotFoundError } from '../core/errors.js';
import { quoteInput } from '../core/untrusted-input.js';
import type { DeployControlDeps, DeploymentRequest } from '../strategies/deployment-controller.js';
import {
  cancelRollout,
  instantiateDeployment,
  rollbackDeployment,
  setPaused,
} from '../strategies/deployment-controller.js';
import type { BuildLogStore } from '../store/build-logs.js';
import { deployerScopeOf, forbiddenMessage } from './auth.js';
import { requestBody } from './body.js';
import type { DeployerSteps } from '../strategies/deployer-steps.js';
import { DEPLOYMENT_CONFIG, refreshConfigStatus } from '../strategies/rollout.js';
import { REVISION_LABELS, revisionName, type ReplicationController } from '../strategies/target.js';

const DC_BASE = '/apis/apps.openshift.io/v1/namespaces/:ns/deploymentconfigs/:name';
const RC_BASE = '/api/v1/namespaces/:ns/replicationcontrollers';

export interface DeploymentRoutesDeps extends DeployControlDeps {
  /** Rollout logs, one per revision. */
  logs: BuildLogStore;
  /** Deploy-step requests, handed to the worker running the rollout. */
  steps: DeployerSteps;
}

function optionalBoolean(b: Record<string, unknown>, field: string): boolean | undefined {
  const v = b[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean')
    throw new InputError(`${field} must be true or false`, {
      code: 400,
      causes: [{ field, message: 'must be a boolean' }],
    });
  return v;
}

export function deploymentRouter(deps: DeploymentRoutesDeps): Router {
  const { store, target } = deps;
  const router = Router();

  const withLiveStatus = async (rc: ReplicationController): Promise<ReplicationController> => {
    const s = await target.revisionStatus(rc.metadata.namespace!, rc.metadata.name).catch(() => undefined);
    if (!s) return rc;
    return {
      ...rc,
      status: {
        ...(rc.status ?? {}),
        replicas: s.current,
        readyReplicas: s.ready,
        availableReplicas: s.available,
      },
    };
  };
  const getRevision = async (
    ns: string,
    name: string,
    access?: { scope: unknown; method: string; path: string },
  ): Promise<ReplicationController> => {
    const rc = await target.getRevision(ns, name);
    // The token's route check goes by name; the label says whose revision it really is.
    const own = deployerScopeOf(access?.scope);
    if (own && rc?.metadata.labels?.[REVISION_LABELS.configName] !== own.name)
      throw new ForbiddenError(forbiddenMessage(access!.scope as string, access!.method, access!.path));
    if (!rc) throw new NotFoundError(`replicationcontrollers "${name}" not found`);
    return rc;
  };
  const accessOf = (req: Request, res: Response): { scope: unknown; method: string; path: string } => ({
    scope: res.locals.scope,
    method: req.method,
    path: req.path,
  });

  router.post(`${DC_BASE}/instantiate`, async (req, res) => {
    const b = requestBody(req.body, 'DeploymentRequest');
    if (b.name !== undefined && b.name !== req.params.name) {
      throw new InputError(`name ${quoteInput(b.name)} does not match the DeploymentConfig in the URL`, {
        code: 400,
        causes: [{ field: 'name', message: `must be ${req.params.name}` }],
      });
    }
    const request: DeploymentRequest = {};
    const latest = optionalBoolean(b, 'latest');
    const force = optionalBoolean(b, 'force');
    if (latest !== undefined) request.latest = latest;
    if (force !== undefined) request.force = force;
    if (b.excludeTriggers !== undefined) {
      if (
        !Array.isArray(b.excludeTriggers) ||
        b.excludeTriggers.some((t) => t !== 'ImageChange' && t !== 'ConfigChange')
      ) {
        throw new InputError('excludeTriggers must list ImageChange and/or ConfigChange', {
          code: 400,
          causes: [{ field: 'excludeTriggers', message: 'supported values: "ImageChange", "ConfigChange"' }],
        });
      }
      request.excludeTriggers = b.excludeTriggers as string[];
    }
    const result = await instantiateDeployment(deps, req.params.ns!, req.params.name!, request);
    res.status(result.version !== undefined ? 201 : 200).json(result.config);
  });

  router.post(`${DC_BASE}/rollback`, async (req, res) => {
    const b = requestBody(req.body, 'DeploymentConfigRollback');
    // OpenShift's body names the revision in spec.revision; `revision` alone is accepted too.
    const raw = (b.spec as { revision?: unknown } | undefined)?.revision ?? b.revision;
    if (raw !== undefined && (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0)) {
      throw new InputError('spec.revision must be a revision number', {
        code: 400,
        causes: [{ field: 'spec.revision', message: 'must be a non-negative integer' }],
      });
    }
    const result = await rollbackDeployment(
      deps,
      req.params.ns!,
      req.params.name!,
      raw ? { toRevision: raw as number } : {},
    );
    // The config as rolled back, plus what `rollout undo` reports (OpenShift's client computes the same).
    res.status(201).json({
      ...result.config,
      rollback: { to: result.rolledBackTo, disabledTriggers: result.disabledTriggers },
    });
  });

  // Slipway's openshift-deploy: a deployer pod (customParams around Rolling/Recreate) runs
  // the built-in strategy of the rollout in progress, optionally `until` a percentage.
  router.post(`${DC_BASE}/deploy`, async (req, res) => {
    const b = requestBody(req.body, 'DeployStep');
    let until: number | undefined;
    if (b.until !== undefined) {
      const m = /^(\d+)%?$/.exec(
        typeof b.until === 'number' || typeof b.until === 'string' ? String(b.until) : '',
      );
      if (!m || Number(m[1]) > 100) {
        throw new InputError(`until ${quoteInput(b.until)} is not a percentage`, {
          code: 400,
          causes: [{ field: 'until', message: 'must be a percentage such as "50%"' }],
        });
      }
      until = Number(m[1]);
    }
    const dc = (await store.get(DEPLOYMENT_CONFIG, req.params.ns!, req.params.name!)) as
      DeploymentConfig | undefined;
    if (!dc) throw new NotFoundError(`deploymentconfigs.apps.openshift.io "${req.params.name}" not found`);
    const rc = revisionName(dc.metadata.name, dc.status?.latestVersion ?? 0);
    const timeout =
      (dc.spec.strategy?.rollingParams?.timeoutSeconds ??
        dc.spec.strategy?.recreateParams?.timeoutSeconds ??
        600) * 1000;
    await deps.steps.request(req.params.ns!, rc, until, timeout * 3);
    res.json({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      message: `${rc} deployed${until === undefined ? '' : ` until ${until}%`}`,
      code: 200,
    });
  });

  router.post(`${DC_BASE}/cancel`, async (req, res) => {
    res.json(await cancelRollout(deps, req.params.ns!, req.params.name!));
  });

  router.post(`${DC_BASE}/pause`, async (req, res) => {
    res.json(await setPaused(deps, req.params.ns!, req.params.name!, true));
  });

  router.post(`${DC_BASE}/resume`, async (req, res) => {
    res.json(await setPaused(deps, req.params.ns!, req.params.name!, false));
  });

  router.get(`${DC_BASE}/log`, async (req, res) => {
    const ns = req.params.ns!;
    const name = req.params.name!;
    const dc = (await store.get(DEPLOYMENT_CONFIG, ns, name)) as DeploymentConfig | undefined;
    if (!dc) throw new NotFoundError(`deploymentconfigs.apps.openshift.io "${name}" not found`);
    const version =
      req.query.version === undefined ? (dc.status?.latestVersion ?? 0) : Number(req.query.version);
    if (!Number.isInteger(version) || version < 1)
      throw new InputError(
        `DeploymentConfig "${name}" has no rollout${req.query.version ? ` ${String(req.query.version)}` : ' yet'}`,
        { code: 400 },
      );
    const rc = revisionName(name, version);
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const { lines, closed } = await deps.logs.readLog(ns, rc);
    if (req.query.follow !== 'true' || closed) {
      res.end(lines.length ? `${lines.join('\n')}\n` : '');
      return;
    }
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    res.flushHeaders();
    for await (const line of deps.logs.followLog(ns, rc, abort.signal)) {
      if (!res.write(`${line}\n`)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  });

  router.get(RC_BASE, async (req, res, next) => {
    const selector = typeof req.query.labelSelector === 'string' ? req.query.labelSelector : '';
    const m = new RegExp(`(?:^|,)${REVISION_LABELS.configName.replace(/[./]/g, '\\$&')}=([^,]+)`).exec(
      selector,
    );
    // A deployer's token lists its own DeploymentConfig's revisions and no other's.
    const own = deployerScopeOf(res.locals.scope);
    if (own && m && m[1] !== own.name) {
      throw new ForbiddenError(
        `${forbiddenMessage(res.locals.scope as string, 'GET', req.path)} (only revisions of deploymentconfig "${own.name}")`,
      );
    }
    const dcName = own ? own.name : m?.[1];
    // Without the DeploymentConfig label the list comes from the store, as for any kind.
    if (!dcName) return next();
    const items = await Promise.all((await target.listRevisions(req.params.ns!, dcName)).map(withLiveStatus));
    res.json({ kind: 'ReplicationControllerList', apiVersion: 'v1', metadata: {}, items });
  });

  router.get(`${RC_BASE}/:name`, async (req, res) => {
    res.json(await withLiveStatus(await getRevision(req.params.ns!, req.params.name!, accessOf(req, res))));
  });

  const scaleBody = async (rc: ReplicationController): Promise<Record<string, unknown>> => {
    const s = await target.revisionStatus(rc.metadata.namespace!, rc.metadata.name);
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: rc.metadata.name, namespace: rc.metadata.namespace },
      spec: { replicas: rc.spec.replicas },
      status: {
        replicas: s.current,
        readyReplicas: s.ready,
        availableReplicas: s.available,
        selector: Object.entries(rc.spec.selector)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      },
    };
  };

  router.get(`${RC_BASE}/:name/scale`, async (req, res) => {
    res.json(await scaleBody(await getRevision(req.params.ns!, req.params.name!, accessOf(req, res))));
  });

  router.put(`${RC_BASE}/:name/scale`, async (req, res) => {
    const ns = req.params.ns!;
    const name = req.params.name!;
    const b = requestBody(req.body, 'Scale');
    const replicas = (b.spec as { replicas?: unknown } | undefined)?.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw new InputError('spec.replicas must be a non-negative integer', {
        causes: [{ field: 'spec.replicas', message: 'must be greater than or equal to 0' }],
      });
    }
    const rc = await getRevision(ns, name, accessOf(req, res));
    await target.scaleRevision(ns, name, replicas, { signal: AbortSignal.timeout(300_000) });
    const dcName = rc.metadata.labels?.[REVISION_LABELS.configName];
    if (dcName) await refreshConfigStatus(deps, ns, dcName);
    res.json(await scaleBody(await getRevision(ns, name)));
  });

  for (const method of ['post', 'put', 'patch', 'delete'] as const) {
    router[method]([RC_BASE, `${RC_BASE}/:name`], () => {
      throw new MethodNotAllowedError(
        'revisions (ReplicationControllers) are made and removed by rollouts; scale one through its /scale subresource, or use slipway rollout',
      );
    });
  }

  return router;
}
