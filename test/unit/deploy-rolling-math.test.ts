import {
  resolveFenceposts,
  resolveIntOrPercent,
  scaleDownTarget,
  scaleUpTarget,
  type Fenceposts,
} from '../../src/strategies/rolling-math.js';

test('percentages round as Kubernetes does: surge up, unavailable down', () => {
  expect(resolveIntOrPercent('25%', 2, true)).toBe(1);
  expect(resolveIntOrPercent('25%', 2, false)).toBe(0);
  expect(resolveIntOrPercent('25%', 10, true)).toBe(3);
  expect(resolveIntOrPercent('25%', 10, false)).toBe(2);
  expect(resolveIntOrPercent('100%', 3, false)).toBe(3);
  expect(resolveIntOrPercent(2, 10, true)).toBe(2);
  expect(resolveIntOrPercent('4', 10, false)).toBe(4);
});

test('fenceposts: both resolving to 0 makes maxUnavailable 1 so the rollout can move', () => {
  expect(resolveFenceposts('25%', '25%', 4)).toEqual({ maxSurge: 1, maxUnavailable: 1 });
  expect(resolveFenceposts('25%', '25%', 1)).toEqual({ maxSurge: 1, maxUnavailable: 0 });
  expect(resolveFenceposts('10%', '10%', 3)).toEqual({ maxSurge: 1, maxUnavailable: 0 });
  expect(resolveFenceposts(0, '10%', 3)).toEqual({ maxSurge: 0, maxUnavailable: 1 });
});

/** Plays the rolling loop with every new replica becoming available at once. */
function play(desired: number, fence: Fenceposts): [number, number][] {
  let oldR = desired;
  let newR = 0;
  const steps: [number, number][] = [];
  for (let i = 0; i < 50 && (newR !== desired || oldR !== 0); i++) {
    newR = scaleUpTarget({ desired, oldReplicas: oldR, newReplicas: newR, newAvailable: 0 }, fence);
    oldR = scaleDownTarget({ desired, oldReplicas: oldR, newReplicas: newR, newAvailable: newR }, fence);
    steps.push([oldR, newR]);
    expect(oldR + newR).toBeLessThanOrEqual(desired + fence.maxSurge);
  }
  return steps;
}

test('a rolling update with surge 1, unavailable 0 never drops below desired and ends all new', () => {
  const steps = play(3, { maxSurge: 1, maxUnavailable: 0 });
  expect(steps).toEqual([
    [2, 1],
    [1, 2],
    [0, 3],
  ]);
});

test('surge 0, unavailable 1 goes down before up', () => {
  const steps = play(2, { maxSurge: 0, maxUnavailable: 1 });
  expect(steps).toEqual([
    [1, 0],
    [0, 1],
    [0, 2],
  ]);
});

test('no old replica leaves while new ones are not available', () => {
  const fence = { maxSurge: 1, maxUnavailable: 0 };
  const up = scaleUpTarget({ desired: 2, oldReplicas: 2, newReplicas: 0, newAvailable: 0 }, fence);
  expect(up).toBe(1);
  expect(scaleDownTarget({ desired: 2, oldReplicas: 2, newReplicas: 1, newAvailable: 0 }, fence)).toBe(2);
  expect(scaleUpTarget({ desired: 2, oldReplicas: 2, newReplicas: 1, newAvailable: 0 }, fence)).toBe(1);
  expect(scaleDownTarget({ desired: 2, oldReplicas: 2, newReplicas: 1, newAvailable: 1 }, fence)).toBe(1);
});

test('once the old revision is gone the new one goes straight to desired', () => {
  expect(
    scaleUpTarget(
      { desired: 5, oldReplicas: 0, newReplicas: 1, newAvailable: 1 },
      { maxSurge: 1, maxUnavailable: 0 },
    ),
  ).toBe(5);
});
