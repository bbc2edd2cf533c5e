/**
 * The DeploymentConfig controller applies the ImageChange decision the triggers stage
 * made (src/triggers/image-change.ts) and starts the rollout. Against the in-memory
 * store, with an in-memory stand-in for the deploy target and a queue that records what
 * it is given (no Redis, no Docker).
 */
import { describe, expect, it } from '@jest/globals';
import type { DeploymentConfig } from '../../src/core/deploy-types.js';
import { lookupKind, type Resource } from '../../src/core/resource.js';
import type { RolloutQueue } from '../../src/queue/rollout-queue.js';
import { MemoryResourceStore } from '../../src/store/memory-store.js';
import {
  applyDeploymentImageChange,
  rollOutOnImageChange,
} from '../../src/strategies/deployment-controller.js';
import type { DeployTarget, ReplicationController } from '../../src/strategies/target.js';
import { decideDeploymentImageChange, type ImageStreamTagUpdate } from '../../src/triggers/image-change.js';

const DC = lookupKind('apps.openshift.io/v1', 'DeploymentConfig')!;
const IMAGE = '127.0.0.1:5000/ns/app@sha256:' + 'a'.repeat(64);

/** In-memory stand-in for a deploy target: revisions in a Map, nothing runs. */
function memoryTarget(): DeployTarget & { revisions: Map<string, ReplicationController> } {
  const revisions = new Map<string, ReplicationController>();
  const unused = async (): Promise<never> => {
    throw new Error('not used by these tests');
  };
  return {
    name: 'memory',
    revisions,
    ensureRevision: async (rc) => {
      if (!revisions.has(rc.metadata.name)) revisions.set(rc.metadata.name, structuredClone(rc));
      return revisions.get(rc.metadata.name)!;
    },
    getRevision: async (_ns, name) => revisions.get(name),
    listRevisions: async () => [...revisions.values()],
    annotateRevision: async (_ns, name, annotations) => {
      const rc = revisions.get(name)!;
      for (const [k, v] of Object.entries(annotations)) {
        rc.metadata.annotations ??= {};
        if (v === null) delete rc.metadata.annotations[k];
        else rc.metadata.annotations[k] = v;
      }
      return rc;
    },
    scaleRevision: unused,
    revisionStatus: unused,
    deleteRevision: unused,
    runPod: unused,
    applyService: unused,
    deleteService: unused,
    close: async () => undefined,
  };
}

async function setUp(params: Record<string, unknown> = {}) {
  const store = new MemoryResourceStore();
  const target = memoryTarget();
  const queued: number[] = [];
  const rollouts = {
    enqueue: async (_dc: unknown, v: number) => void queued.push(v),
  } as unknown as RolloutQueue;
  const dc = await store.create(DC, {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name: 'web', namespace: 'ns' },
    spec: {
      replicas: 1,
      selector: { app: 'web' },
      triggers: [
        {
          type: 'ImageChange',
          imageChangeParams: {
            automatic: true,
            containerNames: ['web'],
            from: { kind: 'ImageStreamTag', name: 'app:latest' },
            ...params,
          },
        },
      ],
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: ' ' }] },
      },
    },
  } as unknown as Resource);
  return { store, target, queued, dc, deps: { store, target, rollouts } };
}

const update: ImageStreamTagUpdate = {
  namespace: 'ns',
  stream: 'app',
  tag: 'latest',
  image: 'sha256:' + 'a'.repeat(64),
  dockerImageReference: IMAGE,
};

describe('DeploymentConfig ImageChange: the controller applies the triggers decision', () => {
  it('records lastTriggeredImage, points the container at the image and starts rollout 1 once', async () => {
    const { store, target, queued, dc, deps } = await setUp();
    const decision = decideDeploymentImageChange({ deploymentConfig: dc, update });
    expect(decision.fire).toBe(true);
    await rollOutOnImageChange(deps)(dc, decision as Extract<typeof decision, { fire: true }>, update);
    const after = (await store.get(DC, 'ns', 'web')) as unknown as DeploymentConfig;
    expect(after.spec.triggers![0]!.imageChangeParams!.lastTriggeredImage).toBe(IMAGE);
    expect(after.spec.template.spec.containers[0]!.image).toBe(IMAGE);
    expect(after.status?.latestVersion).toBe(1);
    expect(after.status?.details?.causes?.[0]?.type).toBe('ImageChange');
    expect([...target.revisions.keys()]).toEqual(['web-1']);
    expect(queued).toEqual([1]);
    // The same image again: the triggers stage says already triggered, nothing new starts.
    const again = await applyDeploymentImageChange(deps, { namespace: 'ns', name: 'web', update });
    expect(again).toEqual({ updated: false, reason: `already triggered for ${IMAGE}` });
    expect(queued).toEqual([1]);
  });

  it('asks the triggers stage again when the config changed since the decision (paused meanwhile: no rollout)', async () => {
    const { store, queued, dc, deps } = await setUp();
    const decision = decideDeploymentImageChange({ deploymentConfig: dc, update });
    await store.update(DC, 'ns', 'web', (cur) => ({ ...cur, spec: { ...cur.spec, paused: true } }));
    const result = await applyDeploymentImageChange(deps, {
      namespace: 'ns',
      name: 'web',
      update,
      decided: { decision, resourceVersion: dc.metadata.resourceVersion },
    });
    expect(result).toEqual({ updated: false, reason: 'DeploymentConfig "web" is paused' });
    expect(queued).toEqual([]);
    const after = (await store.get(DC, 'ns', 'web')) as unknown as DeploymentConfig;
    expect(after.spec.triggers![0]!.imageChangeParams!.lastTriggeredImage).toBeUndefined();
  });

  it('does not fire a trigger that is not automatic', async () => {
    const { queued, deps } = await setUp({ automatic: false });
    const result = await applyDeploymentImageChange(deps, { namespace: 'ns', name: 'web', update });
    expect(result).toEqual({ updated: false, reason: 'the trigger is not automatic' });
    expect(queued).toEqual([]);
  });
});
