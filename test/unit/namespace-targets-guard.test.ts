/**
 * The guard between a process and its deploy target in a mixed fleet
 * (src/strategies/target-guard.ts), on a real Redis record. The target under the guard is
 * a recording stand-in (it only notes which verbs reached it): what is tested is what the
 * guard lets through, not what a target does.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { ConflictError } from '../../src/core/errors.js';
import { RedisNamespaceTargets } from '../../src/store/namespace-targets.js';
import { claimNamespace, guardTarget } from '../../src/strategies/target-guard.js';
import type { DeployTarget } from '../../src/strategies/target.js';
import { startRedis, type RedisHandle } from '../support/stack.js';

let redisHandle: RedisHandle;
let client: Redis;

beforeAll(async () => {
  redisHandle = await startRedis();
  client = new Redis(redisHandle.url);
});
afterAll(async () => {
  client.disconnect();
  await redisHandle.stop();
});

const fleet = (): RedisNamespaceTargets => new RedisNamespaceTargets(client, `t-${randomUUID()}`);

/** A stand-in target recording the verbs that reached it. */
function recordingTarget(name: 'docker' | 'kubernetes'): DeployTarget & { calls: string[] } {
  const calls: string[] = [];
  const note =
    (verb: string) =>
    async (first: unknown): Promise<undefined> => {
      const ns =
        typeof first === 'string'
          ? first
          : ((first as { namespace?: string; metadata?: { namespace?: string } }).namespace ??
            (first as { metadata: { namespace?: string } }).metadata.namespace);
      calls.push(`${verb} ${ns}`);
      return undefined;
    };
  return {
    name,
    calls,
    ensureRevision: note('ensureRevision'),
    getRevision: note('getRevision'),
    listRevisions: async (ns: string) => {
      calls.push(`listRevisions ${ns}`);
      return [];
    },
    annotateRevision: note('annotateRevision'),
    scaleRevision: note('scaleRevision'),
    revisionStatus: note('revisionStatus'),
    deleteRevision: note('deleteRevision'),
    runPod: note('runPod'),
    applyService: note('applyService'),
    deleteService: note('deleteService'),
    onImageStreamTagUpdated: note('onImageStreamTagUpdated'),
    close: async () => undefined,
  } as unknown as DeployTarget & { calls: string[] };
}

describe('claimNamespace', () => {
  it('claims an unrecorded namespace for the first process, and the other kind then stays out', async () => {
    const targets = fleet();
    const lines: string[] = [];
    const logger = { info: (_o: unknown, msg: string) => lines.push(msg) } as never;
    expect(await claimNamespace({ targets, logger }, { namespace: 'shop', own: 'kubernetes' })).toEqual({
      act: true,
      claimed: true,
    });
    expect(lines.join('\n')).toMatch(/slipway set deploy-target shop docker/);
    expect(await claimNamespace({ targets }, { namespace: 'shop', own: 'docker' })).toEqual({
      act: false,
      recorded: 'kubernetes',
    });
    expect(await claimNamespace({ targets }, { namespace: 'shop', own: 'kubernetes' })).toEqual({
      act: true,
      claimed: false,
    });
  });

  it('does not claim a namespace whose rolled-out DeploymentConfig this target does not hold', async () => {
    const targets = fleet();
    const decision = await claimNamespace(
      { targets },
      { namespace: 'old', own: 'docker', mayClaim: async () => false },
    );
    expect(decision).toEqual({ act: false, recorded: undefined });
    expect(await targets.get('old')).toBeUndefined();
    // The kind that holds the revision claims it.
    await claimNamespace({ targets }, { namespace: 'old', own: 'kubernetes', mayClaim: async () => true });
    expect(await targets.get('old')).toBe('kubernetes');
  });
});

describe('guardTarget', () => {
  it('refuses every verb in a namespace recorded for the other kind, and passes the rest', async () => {
    const targets = fleet();
    await targets.set('cluster-ns', 'kubernetes');
    await targets.set('docker-ns', 'docker');
    const inner = recordingTarget('docker');
    const guarded = guardTarget(inner, targets);
    const signal = new AbortController().signal;
    const rc = (ns: string) => ({ metadata: { name: 'web-1', namespace: ns } }) as never;

    await expect(guarded.ensureRevision(rc('cluster-ns'), { signal })).rejects.toThrow(ConflictError);
    await expect(guarded.ensureRevision(rc('cluster-ns'), { signal })).rejects.toThrow(
      /namespace "cluster-ns" deploys to kubernetes, and this Slipway process deploys to docker/,
    );
    await expect(guarded.scaleRevision('cluster-ns', 'web-1', 3, { signal })).rejects.toThrow(ConflictError);
    await expect(guarded.listRevisions('cluster-ns', 'web')).rejects.toThrow(ConflictError);
    await expect(guarded.deleteRevision('cluster-ns', 'web-1', { signal })).rejects.toThrow(ConflictError);
    await expect(
      guarded.runPod({ namespace: 'cluster-ns', name: 'p', image: 'i', env: [], labels: {} }, { signal }),
    ).rejects.toThrow(ConflictError);
    await expect(guarded.applyService(rc('cluster-ns'))).rejects.toThrow(ConflictError);
    // A tag update for the other kind's namespace is skipped quietly: that hook never throws.
    await guarded.onImageStreamTagUpdated!({
      namespace: 'cluster-ns',
      stream: 's',
      tag: 't',
      dockerImageReference: 'r',
    });
    expect(inner.calls).toEqual([]);

    await guarded.ensureRevision(rc('docker-ns'), { signal });
    await guarded.scaleRevision('docker-ns', 'web-1', 3, { signal });
    await guarded.listRevisions('unrecorded', 'web');
    expect(inner.calls).toEqual([
      'ensureRevision docker-ns',
      'scaleRevision docker-ns',
      'listRevisions unrecorded',
    ]);
    // What is not a namespaced verb passes through as the target's own.
    expect(guarded.name).toBe('docker');
    await guarded.close();
  });
});
