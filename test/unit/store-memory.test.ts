/** The in-memory store keeps the Redis store's concurrency contract (resourceVersion, 409, 404). */
import { expect, it } from '@jest/globals';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../../src/core/errors.js';
import { lookupKind } from '../../src/core/resource.js';
import { MemoryResourceStore } from '../../src/store/memory-store.js';

const CM = lookupKind('v1', 'Secret')!;
const cm = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: 'ns', labels },
  spec: { v: 1 },
});

it('refuses a stale write, a second create and a missing object, and bumps versions', async () => {
  const store = new MemoryResourceStore();
  const a = await store.create(CM, cm('a'));
  await expect(store.create(CM, cm('a'))).rejects.toThrow(AlreadyExistsError);
  const b = await store.replace(CM, { ...a, spec: { v: 2 } });
  expect(Number(b.metadata.resourceVersion)).toBeGreaterThan(Number(a.metadata.resourceVersion));
  expect(b.metadata.generation).toBe(2);
  await expect(store.replace(CM, { ...a, spec: { v: 3 } })).rejects.toThrow(ConflictError);
  await expect(store.get(CM, 'ns', 'a')).resolves.toMatchObject({ spec: { v: 2 } });
  await expect(store.delete(CM, 'ns', 'zz')).rejects.toThrow(NotFoundError);
});

it('hands out counters above the status floor, filters by label and tells watchers', async () => {
  const store = new MemoryResourceStore();
  const events: string[] = [];
  const stop = await store.watch((e) => events.push(`${e.type} ${e.object.metadata.name}`));
  await store.create(CM, { ...cm('x', { app: 'web' }), status: { last: 4 } });
  await store.create(CM, cm('y', { app: 'db' }));
  expect(await store.nextNumber(CM, 'ns', 'x', 'last')).toBe(5);
  expect(await store.nextNumber(CM, 'ns', 'x', 'last')).toBe(6);
  expect((await store.list(CM, 'ns', 'app=web')).map((o) => o.metadata.name)).toEqual(['x']);
  await store.update(CM, 'ns', 'y', (o) => ({ ...o, spec: { v: 9 } }));
  await store.delete(CM, 'ns', 'x');
  await stop();
  await store.create(CM, cm('z'));
  expect(events).toEqual(['ADDED x', 'ADDED y', 'MODIFIED y', 'DELETED x']);
});
