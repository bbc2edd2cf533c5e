import { describe, expect, it } from '@jest/globals';
import type { BuildPhase } from '../../src/core/build-types.js';
import {
  buildNumberOf,
  buildRunInfo,
  buildsToCancel,
  mayStartBuild,
  nextRunnableBuilds,
  supersededBy,
  type BuildRunInfo,
  type RunPolicy,
} from '../../src/queue/run-policy.js';

/** Plays the part of the queue: builds arrive, cancellations apply, the dispatcher starts what may start. */
function simulate(policy: RunPolicy, pushes: number): BuildRunInfo[] {
  const builds: BuildRunInfo[] = [];
  const dispatch = (): void => {
    for (const name of nextRunnableBuilds({ runPolicy: policy, builds })) {
      const b = builds.find((x) => x.name === name)!;
      b.phase = 'Running';
    }
  };
  for (let n = 1; n <= pushes; n++) {
    const build: BuildRunInfo = { name: `app-${n}`, number: n, phase: 'New' };
    builds.push(build);
    for (const name of buildsToCancel({ runPolicy: policy, builds, newBuild: build })) {
      builds.find((x) => x.name === name)!.phase = 'Cancelled';
    }
    dispatch();
  }
  return builds;
}

const phases = (builds: BuildRunInfo[]): Record<string, BuildPhase> =>
  Object.fromEntries(builds.map((b) => [b.name, b.phase]));

describe('SerialLatestOnly', () => {
  it('five quick pushes: only the running build and the newest survive', () => {
    const builds = simulate('SerialLatestOnly', 5);
    expect(phases(builds)).toEqual({
      'app-1': 'Running',
      'app-2': 'Cancelled',
      'app-3': 'Cancelled',
      'app-4': 'Cancelled',
      'app-5': 'New',
    });
    // The newest starts as soon as the running one ends.
    builds[0]!.phase = 'Complete';
    expect(nextRunnableBuilds({ runPolicy: 'SerialLatestOnly', builds })).toEqual(['app-5']);
  });

  it('cancels Pending builds too but never a running or a newer one', () => {
    const builds: BuildRunInfo[] = [
      { name: 'a-1', number: 1, phase: 'Running' },
      { name: 'a-2', number: 2, phase: 'Pending' },
      { name: 'a-3', number: 3, phase: 'New' },
      { name: 'a-5', number: 5, phase: 'New' },
      { name: 'a-0', number: 0, phase: 'Complete' },
    ];
    expect(
      buildsToCancel({ runPolicy: 'SerialLatestOnly', builds, newBuild: { name: 'a-4', number: 4 } }),
    ).toEqual(['a-2', 'a-3']);
  });

  it('a queued build that a newer one missed (two servers at once) learns it is superseded before it starts', () => {
    // app-5 was created before app-3 was stored, so app-5's arrival did not cancel app-3.
    const builds: BuildRunInfo[] = [
      { name: 'app-1', number: 1, phase: 'Complete' },
      { name: 'app-3', number: 3, phase: 'New' },
      { name: 'app-5', number: 5, phase: 'New' },
    ];
    expect(supersededBy({ runPolicy: 'SerialLatestOnly', builds, build: { name: 'app-3', number: 3 } })).toBe(
      'app-5',
    );
    expect(
      supersededBy({ runPolicy: 'SerialLatestOnly', builds, build: { name: 'app-5', number: 5 } }),
    ).toBeUndefined();
    expect(
      supersededBy({ runPolicy: 'Serial', builds, build: { name: 'app-3', number: 3 } }),
    ).toBeUndefined();
    // A newer build that already ran or ended does not supersede a queued one.
    const ended: BuildRunInfo[] = [
      { name: 'app-3', number: 3, phase: 'New' },
      { name: 'app-4', number: 4, phase: 'Cancelled' },
    ];
    expect(
      supersededBy({ runPolicy: 'SerialLatestOnly', builds: ended, build: { name: 'app-3', number: 3 } }),
    ).toBeUndefined();
  });

  it('Serial and Parallel cancel nothing', () => {
    const builds: BuildRunInfo[] = [{ name: 'a-1', number: 1, phase: 'New' }];
    for (const policy of ['Serial', 'Parallel', undefined] as const) {
      expect(buildsToCancel({ runPolicy: policy, builds, newBuild: { name: 'a-2', number: 2 } })).toEqual([]);
    }
  });
});

describe('Serial', () => {
  it('runs builds one at a time in number order', () => {
    const builds = simulate('Serial', 3);
    expect(phases(builds)).toEqual({ 'app-1': 'Running', 'app-2': 'New', 'app-3': 'New' });
    const d = mayStartBuild({ runPolicy: 'Serial', builds, build: { name: 'app-3', number: 3 } });
    expect(d).toEqual({
      mayStart: false,
      waitingFor: ['app-1', 'app-2'],
      reason: 'runPolicy Serial: waiting for app-1 (Running), app-2 (New)',
    });
    builds[0]!.phase = 'Failed';
    expect(mayStartBuild({ runPolicy: 'Serial', builds, build: { name: 'app-3', number: 3 } }).mayStart).toBe(
      false,
    );
    expect(nextRunnableBuilds({ runPolicy: 'Serial', builds })).toEqual(['app-2']);
    builds[1]!.phase = 'Cancelled';
    expect(mayStartBuild({ runPolicy: 'Serial', builds, build: { name: 'app-3', number: 3 } })).toEqual({
      mayStart: true,
    });
  });

  it('is the default policy, and an ended build never starts', () => {
    const builds: BuildRunInfo[] = [
      { name: 'a-1', number: 1, phase: 'Running' },
      { name: 'a-2', number: 2, phase: 'Cancelled' },
    ];
    expect(mayStartBuild({ runPolicy: undefined, builds, build: { name: 'a-3', number: 3 } }).mayStart).toBe(
      false,
    );
    expect(mayStartBuild({ runPolicy: 'Parallel', builds, build: { name: 'a-2', number: 2 } }).mayStart).toBe(
      false,
    );
  });
});

describe('Parallel', () => {
  it('starts every build at once', () => {
    expect(phases(simulate('Parallel', 4))).toEqual({
      'app-1': 'Running',
      'app-2': 'Running',
      'app-3': 'Running',
      'app-4': 'Running',
    });
  });
});

describe('build numbers', () => {
  it('come from openshift.io/build.number, else the name suffix', () => {
    expect(
      buildNumberOf({ metadata: { name: 'web-7', annotations: { 'openshift.io/build.number': '12' } } }),
    ).toBe(12);
    expect(buildNumberOf({ metadata: { name: 'web-7' } })).toBe(7);
    expect(buildNumberOf({ metadata: { name: 'web' } })).toBeUndefined();
    expect(
      buildRunInfo({
        apiVersion: 'build.openshift.io/v1',
        kind: 'Build',
        metadata: { name: 'web-3' },
        status: { phase: 'Running' },
      }),
    ).toEqual({ name: 'web-3', number: 3, phase: 'Running' });
  });
});
