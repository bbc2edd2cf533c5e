import type { Resource } from '../../src/core/resource.js';
import { buildsToPrune } from '../../src/queue/prune.js';

const build = (n: number, phase: string): Resource => ({
  apiVersion: 'build.openshift.io/v1',
  kind: 'Build',
  metadata: { name: `web-${n}`, annotations: { 'openshift.io/build.number': String(n) } },
  status: { phase },
});

test('keeps the newest N complete and N failed builds, prunes the oldest, never touches running ones', () => {
  const builds = [
    build(1, 'Complete'),
    build(2, 'Failed'),
    build(3, 'Complete'),
    build(4, 'Cancelled'),
    build(5, 'Complete'),
    build(6, 'Error'),
    build(7, 'Running'),
    build(8, 'New'),
  ];
  expect(buildsToPrune(builds, { successful: 2, failed: 2 })).toEqual(['web-1', 'web-2']);
  expect(buildsToPrune(builds, { successful: 0, failed: 0 })).toEqual([
    'web-1',
    'web-2',
    'web-3',
    'web-4',
    'web-5',
    'web-6',
  ]);
  expect(buildsToPrune(builds, { successful: 5, failed: 5 })).toEqual([]);
});
