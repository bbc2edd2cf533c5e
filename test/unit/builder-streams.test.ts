/** Builder ImageStreams are registered idempotently (a second `up`, or a stream the registry's notification made first). */
import { IMAGE_STREAM } from '../../src/registry/image-streams.js';
import {
  BUILDER_IMAGES,
  BUILDER_NAMESPACE,
  ensureBuilderStream,
} from '../../src/registry/builder-streams.js';
import { MemoryResourceStore } from '../../src/store/memory-store.js';

const nodejs = BUILDER_IMAGES[0];

test('a new stream is created marked as a builder', async () => {
  const store = new MemoryResourceStore();
  await ensureBuilderStream(store, nodejs);
  const s = await store.get(IMAGE_STREAM, BUILDER_NAMESPACE, 'nodejs');
  expect(s?.metadata.annotations?.['openshift.io/display-name']).toBe(nodejs.display);
  expect((s?.spec as { tags: unknown[] }).tags).toEqual([
    { name: 'latest', annotations: { tags: 'builder,nodejs' } },
  ]);
});

test('a second registration changes nothing and does not fail', async () => {
  const store = new MemoryResourceStore();
  await ensureBuilderStream(store, nodejs);
  const first = await store.get(IMAGE_STREAM, BUILDER_NAMESPACE, 'nodejs');
  await ensureBuilderStream(store, nodejs);
  const second = await store.get(IMAGE_STREAM, BUILDER_NAMESPACE, 'nodejs');
  expect(second?.metadata.resourceVersion).toBe(first?.metadata.resourceVersion);
});

test('a stream made first by a registry notification gets the builder marks, keeping its tags', async () => {
  const store = new MemoryResourceStore();
  await store.create(IMAGE_STREAM, {
    apiVersion: 'image.openshift.io/v1',
    kind: 'ImageStream',
    metadata: { name: 'nodejs', namespace: BUILDER_NAMESPACE },
    spec: { tags: [{ name: 'v1' }] },
  });
  await ensureBuilderStream(store, nodejs);
  const s = await store.get(IMAGE_STREAM, BUILDER_NAMESPACE, 'nodejs');
  expect(s?.metadata.annotations?.['openshift.io/provider-display-name']).toBe('Slipway');
  expect((s?.spec as { tags: unknown[] }).tags).toEqual([
    { name: 'v1' },
    { name: 'latest', annotations: { tags: 'builder,nodejs' } },
  ]);
});
