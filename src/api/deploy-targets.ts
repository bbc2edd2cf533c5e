/**
 * `GET|PUT /apis/slipway.dev/v1/namespaces/{ns}/deploytarget`: which deploy target a
 * namespace's DeploymentConfigs roll out to (`docker` or `kubernetes`), the record every
 * process of a fleet reads (src/store/namespace-targets.ts). The body is
 * `{"target": "kubernetes"}` — not `kind`, which in this API names the object's type.
 *
 * Moving a namespace whose DeploymentConfigs have rolled out already would leave their
 * revisions on the old target, serving, with no process looking after them: that is a 409
 * until those DeploymentConfigs are deleted.
 */
import { Router } from 'express';
import type { DeploymentConfig } from '../core/deploy-types.js';
import { ConflictError, InputError } from '../core/errors.js';
import { DNS1123_LABEL } from '../core/resource.js';
import { quoteInput } from '../core/untrusted-input.js';
import type { ResourceStore } from '../store/resource-store.js';
import {
  parseDeployTargetKind,
  type DeployTargetKind,
  type NamespaceTargets,
} from '../store/namespace-targets.js';
import { DEPLOYMENT_CONFIG } from '../strategies/rollout.js';

export const DEPLOY_TARGET_PATH = '/apis/slipway.dev/v1/namespaces/:ns/deploytarget';

export interface DeployTargetRoutesDeps {
  store: ResourceStore;
  targets: NamespaceTargets;
}

/** The object both verbs answer with. `target` is null while nothing is recorded. */
export function deployTargetObject(namespace: string, target: DeployTargetKind | undefined) {
  return {
    apiVersion: 'slipway.dev/v1',
    kind: 'DeployTarget',
    metadata: { name: 'deploytarget', namespace },
    target: target ?? null,
  };
}

function namespaceParam(ns: string): string {
  if (!DNS1123_LABEL.test(ns) || ns.length > 63)
    throw new InputError(`namespace "${ns}" is not a DNS-1123 label`, {
      code: 400,
      causes: [{ field: 'metadata.namespace', message: 'must be a DNS-1123 label' }],
    });
  return ns;
}

/** The DeploymentConfigs of `namespace` that have made at least one revision. */
async function rolledOut(store: ResourceStore, namespace: string): Promise<string[]> {
  const configs = (await store.list(DEPLOYMENT_CONFIG, namespace)) as unknown as DeploymentConfig[];
  return configs.filter((dc) => (dc.status?.latestVersion ?? 0) > 0).map((dc) => dc.metadata.name);
}

export function deployTargetRouter(deps: DeployTargetRoutesDeps): Router {
  const router = Router();

  router.get(DEPLOY_TARGET_PATH, async (req, res, next) => {
    try {
      const ns = namespaceParam(req.params.ns!);
      res.json(deployTargetObject(ns, await deps.targets.get(ns)));
    } catch (err) {
      next(err);
    }
  });

  router.put(DEPLOY_TARGET_PATH, async (req, res, next) => {
    try {
      const ns = namespaceParam(req.params.ns!);
      const body: unknown = req.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new InputError('a DeployTarget must be an object like {"target": "kubernetes"}', { code: 400 });
      const b = body as Record<string, unknown>;
      if (b.kind !== undefined && b.kind !== 'DeployTarget')
        throw new InputError(`kind ${quoteInput(b.kind)} is not DeployTarget`, {
          code: 400,
          causes: [{ field: 'kind', message: 'must be DeployTarget (the target goes in "target")' }],
        });
      const wanted = parseDeployTargetKind(b.target, 'target');
      const recorded = await deps.targets.get(ns);
      if (recorded && recorded !== wanted) {
        const configs = await rolledOut(deps.store, ns);
        if (configs.length > 0)
          throw new ConflictError(
            `namespace "${ns}" deploys to ${recorded} and DeploymentConfig(s) ${configs.join(', ')} have revisions there; ` +
              `delete them before moving the namespace to ${wanted}`,
          );
      }
      await deps.targets.set(ns, wanted);
      res.json(deployTargetObject(ns, wanted));
    } catch (err) {
      next(err);
    }
  });

  return router;
}
