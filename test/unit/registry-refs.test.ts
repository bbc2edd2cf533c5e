import { parseImageReference, resolveOutput } from '../../src/registry/references.js';
import { withTagEvent } from '../../src/registry/image-streams.js';
import { registryAuthFromSecret } from '../../src/registry/credentials.js';

test('image references split into registry, repository, tag and digest', () => {
  expect(parseImageReference('127.0.0.1:5000/ns/app:v1')).toEqual({
    registry: '127.0.0.1:5000',
    repository: 'ns/app',
    tag: 'v1',
  });
  expect(parseImageReference('ns/app@sha256:abc')).toEqual({
    registry: '',
    repository: 'ns/app',
    digest: 'sha256:abc',
  });
  expect(parseImageReference('localhost/app')).toEqual({ registry: 'localhost', repository: 'app' });
});

test('an ImageStreamTag output goes to the internal registry under its namespace', () => {
  expect(resolveOutput({ kind: 'ImageStreamTag', name: 'web:prod' }, 'shop', '127.0.0.1:5000')).toEqual({
    pushReference: '127.0.0.1:5000/shop/web:prod',
    registry: '127.0.0.1:5000',
    repository: 'shop/web',
    tag: 'prod',
    imageStream: { namespace: 'shop', name: 'web', tag: 'prod' },
  });
});

test('a DockerImage output without a registry is refused: Docker Hub cannot be reached', () => {
  expect(() => resolveOutput({ kind: 'DockerImage', name: 'library/web' }, 'ns', 'r:5000')).toThrow(
    /names no registry/,
  );
});

test('tag history is newest first, capped, and the same digest twice records once', () => {
  let status = {};
  for (let i = 0; i < 12; i++) {
    status = withTagEvent(status, {
      tag: 'latest',
      digest: `sha256:${i}`,
      repository: 'r/ns/app',
      generation: 1,
    }).status;
  }
  const again = withTagEvent(status, {
    tag: 'latest',
    digest: 'sha256:11',
    repository: 'r/ns/app',
    generation: 1,
  });
  expect(again.changed).toBe(false);
  const items = (status as { tags: { items: { image: string; dockerImageReference: string }[] }[] }).tags[0]!
    .items;
  expect(items).toHaveLength(10);
  expect(items[0]!.image).toBe('sha256:11');
  expect(items[0]!.dockerImageReference).toBe('r/ns/app@sha256:11');
});

test('registry credentials come from dockerconfigjson or basic-auth secrets', () => {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const cfg = { auths: { 'reg:5000': { auth: b64('u:p:with:colons') } } };
  expect(
    registryAuthFromSecret({ data: { '.dockerconfigjson': b64(JSON.stringify(cfg)) } }, 'reg:5000'),
  ).toEqual({
    username: 'u',
    password: 'p:with:colons',
    serveraddress: 'reg:5000',
  });
  expect(registryAuthFromSecret({ data: { username: b64('a'), password: b64('b') } }, 'x')).toEqual({
    username: 'a',
    password: 'b',
    serveraddress: 'x',
  });
  expect(registryAuthFromSecret({ data: {} }, 'x')).toBeUndefined();
});
