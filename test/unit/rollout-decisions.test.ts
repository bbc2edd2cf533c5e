/** The rollout runner's start decision (src/strategies/rollout-decisions.ts): no Redis, no Docker. */
import { describe, expect, it } from '@jest/globals';
import type { DeploymentConfig } from '../../src/core/deploy-types.js';
import { decideRolloutStart, rolloutSupersededBy } from '../../src/strategies/rollout-decisions.js';
import { REVISION_ANNOTATIONS, type ReplicationController } from '../../src/strategies/target.js';

const dc = (latestVersion: number): DeploymentConfig =>
  ({
    metadata: { name: 'web', namespace: 'ns' },
    spec: {},
    status: { latestVersion },
  }) as unknown as DeploymentConfig;

function rc(version: number, phase?: string, cancelled = false): ReplicationController {
  return {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: {
      name: `web-${version}`,
      namespace: 'ns',
      annotations: {
        [REVISION_ANNOTATIONS.latestVersion]: String(version),
        ...(phase ? { [REVISION_ANNOTATIONS.phase]: phase } : {}),
        ...(cancelled ? { [REVISION_ANNOTATIONS.cancelled]: 'true' } : {}),
      },
    },
    spec: { replicas: 0, selector: {}, template: { spec: { containers: [] } } as never },
  };
}

describe('whether rollout N runs', () => {
  it('ends Failed without a config or a revision, and does nothing once the rollout ended', () => {
    expect(decideRolloutStart({ dc: undefined, to: rc(2), revisions: [], version: 2 })).toEqual({
      kind: 'finished',
      phase: 'Failed',
    });
    expect(decideRolloutStart({ dc: dc(2), to: undefined, revisions: [], version: 2 })).toMatchObject({
      kind: 'finished',
    });
    expect(decideRolloutStart({ dc: dc(2), to: rc(2, 'Complete'), revisions: [], version: 2 })).toEqual({
      kind: 'finished',
      phase: 'Complete',
    });
  });

  it('is cancelled when the user cancelled it or a newer rollout started, before waiting on older ones', () => {
    const older = rc(1, 'Running');
    expect(decideRolloutStart({ dc: dc(2), to: rc(2, 'New', true), revisions: [older], version: 2 })).toEqual(
      {
        kind: 'cancel',
        reason: 'cancelled by the user',
      },
    );
    expect(decideRolloutStart({ dc: dc(3), to: rc(2, 'New'), revisions: [older], version: 2 })).toEqual({
      kind: 'cancel',
      reason: 'newer deployment was found running',
    });
  });

  it('waits while an older rollout has not ended, then runs (resumed when it was Running)', () => {
    expect(
      decideRolloutStart({
        dc: dc(2),
        to: rc(2, 'New'),
        revisions: [rc(1, 'Pending'), rc(2, 'New')],
        version: 2,
      }),
    ).toEqual({ kind: 'wait', reason: 'waiting for web-1 to end' });
    expect(
      decideRolloutStart({ dc: dc(2), to: rc(2, 'New'), revisions: [rc(1, 'Complete')], version: 2 }),
    ).toEqual({ kind: 'run', resumed: false });
    expect(decideRolloutStart({ dc: dc(2), to: rc(2, 'Running'), revisions: [], version: 2 })).toEqual({
      kind: 'run',
      resumed: true,
    });
  });

  it('a deleted config supersedes every rollout; an older latestVersion does not', () => {
    expect(rolloutSupersededBy(undefined, 1)).toBe('the DeploymentConfig was deleted');
    expect(rolloutSupersededBy(dc(1), 1)).toBeUndefined();
  });
});
