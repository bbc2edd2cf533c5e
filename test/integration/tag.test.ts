/**
 * `slipway tag` on a real server and Redis: a tag pointed at another tag's image, in the
 * same stream and in a new one, by digest, and the ImageChange trigger it fires; bad
 * sources and destinations exit non-zero naming what is wrong.
 */
import { randomUUID } from 'node:crypto';
import { recordImageStreamTag } from '../../src/registry/image-streams.js';
import { cliRunner } from '../support/cli.js';
import { startSlipway, type TestSlipway } from '../support/slipway.js';

let s: TestSlipway;
const ns = `tag-${randomUUID().slice(0, 8)}`;
const digest = `sha256:${'ab12'.repeat(16)}`;
const IS = (name: string) => `/apis/image.openshift.io/v1/namespaces/${ns}/imagestreams/${name}`;

const slipway = cliRunner(() => ({ server: s.http.url, token: s.token, namespace: ns }));

interface Stream {
  status: {
    dockerImageRepository: string;
    tags: { tag: string; items: { image: string; dockerImageReference: string }[] }[];
  };
}

beforeAll(async () => {
  s = await startSlipway({ workers: 0 });
  // What a build's push records: web:latest has an image in web's repository.
  await recordImageStreamTag({
    store: s.rt.store,
    namespace: ns,
    name: 'web',
    tag: 'latest',
    digest,
    repository: `${s.registry.host}/${ns}/web`,
  });
  // A BuildConfig that follows web:prod.
  await s.apiJson('POST', `/apis/build.openshift.io/v1/namespaces/${ns}/buildconfigs`, {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name: 'follower' },
    spec: {
      source: { type: 'Dockerfile', dockerfile: 'FROM scratch\n' },
      strategy: { type: 'Docker', dockerStrategy: { from: { kind: 'ImageStreamTag', name: 'web:prod' } } },
      output: { to: { kind: 'ImageStreamTag', name: 'follower:latest' } },
      triggers: [{ type: 'ImageChange', imageChange: {} }],
    },
  });
}, 60000);
afterAll(async () => {
  await s?.stop();
});

test('tag within a stream records the image and fires the ImageChange trigger that follows it', async () => {
  const r = await slipway(['tag', 'web:latest', 'web:prod']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('Tag web:prod set to web:latest');
  const web = await s.apiJson<Stream>('GET', IS('web'));
  const prod = web.status.tags.find((t) => t.tag === 'prod')!;
  expect(prod.items[0]).toMatchObject({
    image: digest,
    dockerImageReference: `${s.registry.host}/${ns}/web@${digest}`,
  });
  const builds = await s.apiJson<{
    items: { metadata: { name: string }; spec: { triggeredBy: { message: string }[] } }[];
  }>('GET', `/apis/build.openshift.io/v1/namespaces/${ns}/builds`);
  expect(builds.items.map((b) => b.metadata.name)).toEqual(['follower-1']);
  // The same image again: its triggers already fired for it.
  expect((await slipway(['tag', 'web:latest', 'web:prod'])).code).toBe(0);
  expect(
    (await s.apiJson<{ items: unknown[] }>('GET', `/apis/build.openshift.io/v1/namespaces/${ns}/builds`))
      .items,
  ).toHaveLength(1);
});

test('tag into a new stream and by digest: the image keeps pointing where it lives', async () => {
  const r = await slipway(['tag', `web@${digest}`, 'release:v1', 'release:stable']);
  expect(r.code).toBe(0);
  const release = await s.apiJson<Stream>('GET', IS('release'));
  expect(release.status.dockerImageRepository).toBe(`${s.registry.host}/${ns}/release`);
  for (const tag of ['v1', 'stable'])
    expect(release.status.tags.find((t) => t.tag === tag)!.items[0]!.dockerImageReference).toBe(
      `${s.registry.host}/${ns}/web@${digest}`,
    );
});

test('bad sources and destinations exit non-zero and name what is wrong', async () => {
  const missing = await slipway(['tag', 'nope:latest', 'web:x']);
  expect(missing.code).not.toBe(0);
  expect(missing.stderr).toContain('tag.from.name');
  expect(missing.stderr).toContain('does not exist');
  const bad = await slipway(['tag', 'web:latest', 'Bad Name:x']);
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toContain('metadata.name');
  const noDigest = await slipway(['tag', '--source', 'docker', 'example.com/app:1', 'web:ext']);
  expect(noDigest.code).not.toBe(0);
  expect(noDigest.stderr).toContain('not a reference by digest');
  const elsewhere = await slipway(['tag', 'web:latest', 'other-ns/web:x']);
  expect(elsewhere.code).not.toBe(0);
  expect(elsewhere.stderr).toContain('current project');
});
