/**
 * Builder ImageStreams look like OpenShift's sample streams (a version tag, `latest`
 * following it, catalog annotations) and are registered idempotently (a second `up`,
 * a stream the registry's notification made first, a builder upgraded to a new version).
 */
import { IMAGE_STREAM } from '../../src/registry/image-streams.js';
import {
  BUILDER_IMAGES,
  BUILDER_NAMESPACE,
  builderVersion,
  ensureBuilderStream,
  VERSION_LABEL,
} from '../../src/registry/builder-streams.js';
import { MemoryResourceStore } from '../../src/store/memory-store.js';

const python = BUILDER_IMAGES.find((b) => b.stream === 'python')!;
const staticSite = BUILDER_IMAGES.find((b) => b.stream === 'static')!;

type Tag = { name: string; annotations?: Record<string, string>; from?: unknown };
const specTags = async (store: MemoryResourceStore, name: string): Promise<Tag[]> =>
  ((await store.get(IMAGE_STREAM, BUILDER_NAMESPACE, name))?.spec as { tags: Tag[] }).tags;

test('a new stream has the version tag and latest following it, annotated as OpenShift samples are', async () => {
  const store = new MemoryResourceStore();
  await ensureBuilderStream(store, python, '3.11');
  const s = await store.get(IMAGE_STREAM, BUILDER_NAMESPACE, 'python');
  expect(s?.metadata.annotations).toEqual({
    'openshift.io/display-name': 'Python',
    'openshift.io/provider-display-name': 'Slipway',
  });
  const [version, latest] = await specTags(store, 'python');
  expect(version).toMatchObject({
    name: '3.11',
    annotations: {
      'openshift.io/display-name': 'Python 3.11',
      supports: 'python:3.11,python',
      tags: 'builder,python',
      version: '3.11',
      iconClass: 'icon-python',
      sampleRepo: 'https://github.com/sclorg/django-ex.git',
    },
  });
  expect(version?.annotations?.description).toContain('PIP_INDEX_URL');
  expect(latest).toMatchObject({
    name: 'latest',
    from: { kind: 'ImageStreamTag', name: '3.11' },
    annotations: { supports: 'python', tags: 'builder,python', iconClass: 'icon-python' },
  });
  expect(latest?.annotations?.version).toBeUndefined();
});

test('the static builder supports html and nginx besides static', async () => {
  const store = new MemoryResourceStore();
  await ensureBuilderStream(store, staticSite, '1.22');
  const [version] = await specTags(store, 'static');
  expect(version?.annotations).toMatchObject({
    supports: 'static:1.22,static,html,nginx',
    tags: 'builder,static,nginx',
    iconClass: 'icon-nginx',
  });
});

test('an image without a version label gets latest alone', async () => {
  const store = new MemoryResourceStore();
  await ensureBuilderStream(store, python, undefined);
  expect(await specTags(store, 'python')).toEqual([
    expect.objectContaining({
      name: 'latest',
      annotations: expect.objectContaining({ tags: 'builder,python' }),
    }),
  ]);
});

test('a second registration changes nothing and does not fail', async () => {
  const store = new MemoryResourceStore();
  await ensureBuilderStream(store, python, '3.11');
  const first = await store.get(IMAGE_STREAM, BUILDER_NAMESPACE, 'python');
  await ensureBuilderStream(store, python, '3.11');
  const second = await store.get(IMAGE_STREAM, BUILDER_NAMESPACE, 'python');
  expect(second?.metadata.resourceVersion).toBe(first?.metadata.resourceVersion);
});

test('a stream made first by a registry notification gets the builder marks, keeping its own tags and annotations', async () => {
  const store = new MemoryResourceStore();
  await store.create(IMAGE_STREAM, {
    apiVersion: 'image.openshift.io/v1',
    kind: 'ImageStream',
    metadata: { name: 'python', namespace: BUILDER_NAMESPACE, annotations: { team: 'platform' } },
    spec: { tags: [{ name: 'v1' }, { name: 'latest', annotations: { note: 'mine' } }] },
  });
  await ensureBuilderStream(store, python, '3.11');
  const s = await store.get(IMAGE_STREAM, BUILDER_NAMESPACE, 'python');
  expect(s?.metadata.annotations).toMatchObject({
    team: 'platform',
    'openshift.io/provider-display-name': 'Slipway',
  });
  const tags = await specTags(store, 'python');
  expect(tags.map((t) => t.name)).toEqual(['v1', 'latest', '3.11']);
  expect(tags[1]).toMatchObject({
    from: { kind: 'ImageStreamTag', name: '3.11' },
    annotations: { note: 'mine', tags: 'builder,python' },
  });
  const again = s?.metadata.resourceVersion;
  await ensureBuilderStream(store, python, '3.11');
  expect((await store.get(IMAGE_STREAM, BUILDER_NAMESPACE, 'python'))?.metadata.resourceVersion).toBe(again);
});

test('a builder rebuilt with a newer Python adds its tag, moves latest, and keeps the older version tag', async () => {
  const store = new MemoryResourceStore();
  await ensureBuilderStream(store, python, '3.11');
  await ensureBuilderStream(store, python, '3.13');
  const tags = await specTags(store, 'python');
  expect(tags.map((t) => t.name)).toEqual(['3.11', 'latest', '3.13']);
  expect(tags[1]?.from).toEqual({ kind: 'ImageStreamTag', name: '3.13' });
  expect(tags[2]?.annotations?.supports).toBe('python:3.13,python');
});

test('the version comes from the image label only when it is usable as a tag', () => {
  expect(builderVersion({ [VERSION_LABEL]: '3.11' })).toBe('3.11');
  expect(builderVersion({ [VERSION_LABEL]: ' 1.22\n' })).toBe('1.22');
  expect(builderVersion({ [VERSION_LABEL]: 'latest' })).toBeUndefined();
  expect(builderVersion({ [VERSION_LABEL]: '3.11:evil' })).toBeUndefined();
  expect(builderVersion({ [VERSION_LABEL]: '../x' })).toBeUndefined();
  expect(builderVersion({})).toBeUndefined();
  expect(builderVersion(null)).toBeUndefined();
});
