/**
 * Job ids of the build and rollout queues: no two resources share one, a resource made
 * again under an old name gets new ones, and BullMQ accepts every one (no ':', never an
 * integer).
 */
import { buildJobId, buildRef } from '../../src/queue/build-queue.js';
import { rolloutJobId } from '../../src/queue/rollout-queue.js';
import { jitteredDelay, retryOnConflict } from '../../src/store/backoff.js';
import { AlreadyExistsError, ConflictError } from '../../src/core/errors.js';

const build = (namespace: string, name: string, uid: string) => ({ metadata: { namespace, name, uid } });

test('namespace "a" with build "x.y-1" and namespace "a.x" with build "y-1" get different ids', () => {
  const one = buildJobId(buildRef(build('a', 'x.y-1', 'u1')));
  const two = buildJobId(buildRef(build('a.x', 'y-1', 'u1')));
  expect(one).not.toBe(two);
});

test('a Build made again under the same name (its BuildConfig recreated) gets a new job id', () => {
  expect(buildJobId(buildRef(build('ns', 'web-1', 'uid-old')))).not.toBe(
    buildJobId(buildRef(build('ns', 'web-1', 'uid-new'))),
  );
});

test('a Build without a uid (not stored) cannot be queued', () => {
  expect(() => buildRef({ metadata: { namespace: 'ns', name: 'web-1' } })).toThrow(/metadata.uid/);
});

test('rollout ids differ across namespaces, names, recreations and versions, one function makes them', () => {
  const ids = new Set([
    rolloutJobId({ namespace: 'a', name: 'x.y', uid: 'u', version: 1 }),
    rolloutJobId({ namespace: 'a.x', name: 'y', uid: 'u', version: 1 }),
    rolloutJobId({ namespace: 'a', name: 'x', uid: 'u', version: 11 }),
    rolloutJobId({ namespace: 'a', name: 'x.1', uid: 'u', version: 1 }),
    rolloutJobId({ namespace: 'a', name: 'x.y', uid: 'other', version: 1 }),
  ]);
  expect(ids.size).toBe(5);
});

test('every id is one BullMQ accepts: no ":" and not an integer', () => {
  const ids = [
    buildJobId(buildRef(build('ns', '1', '2'))),
    rolloutJobId({ namespace: 'n', name: '1', uid: '2', version: 3 }),
  ];
  for (const id of ids) {
    expect(id).not.toContain(':');
    expect(`${parseInt(id, 10)}`).not.toBe(id);
  }
});

test('backoff waits are jittered within a cap that grows and is bounded', () => {
  for (let attempt = 0; attempt < 20; attempt++) {
    const cap = Math.min(250, 4 * 2 ** attempt);
    for (let i = 0; i < 20; i++) {
      const d = jitteredDelay(attempt);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(cap);
    }
  }
  const seen = new Set(Array.from({ length: 20 }, () => jitteredDelay(6)));
  expect(seen.size).toBeGreaterThan(1);
});

test('retryOnConflict retries conflicts until one succeeds, and gives up after its time bound', async () => {
  let calls = 0;
  const value = await retryOnConflict(async () => {
    calls++;
    if (calls < 8) throw new ConflictError('lost the race');
    return 'won';
  });
  expect(value).toBe('won');
  expect(calls).toBe(8);

  const started = Date.now();
  let tries = 0;
  await expect(
    retryOnConflict(
      async () => {
        tries++;
        throw new ConflictError('always');
      },
      { maxElapsedMs: 300 },
    ),
  ).rejects.toThrow('always');
  expect(Date.now() - started).toBeLessThan(1000);
  expect(tries).toBeGreaterThan(2);
});

test('retryOnConflict does not retry AlreadyExists or other errors', async () => {
  let calls = 0;
  await expect(
    retryOnConflict(async () => {
      calls++;
      throw new AlreadyExistsError('exists');
    }),
  ).rejects.toThrow('exists');
  expect(calls).toBe(1);
});
