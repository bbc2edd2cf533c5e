/**
 * Build input Secrets and ConfigMaps (`spec.source.secrets`, `configMaps`), as OpenShift
 * gives them to a build: files in the Docker build's context for the Dockerfile to COPY;
 * files in the S2I assemble container, the Secrets' emptied before the image is committed.
 * The Docker builds run on the real stack (git daemon, Redis, worker, engine, registry);
 * the S2I build runs Slipway's source builder on the machine's engine.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { sourceBuilder } from '../../src/builders/sti/index.js';
import { BASE_IMAGE, startGitDaemon, type GitServer } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import type { BuildInputFiles } from '../../src/builders/types.js';
import { DependencyNamespaceLabel, DependencyRepository } from '../../src/builders/sti/dependency-layer.js';
import {
  TEST_NAMESPACE,
  buildImage,
  cleanup,
  docker,
  ensureBuilderImages,
  input,
  runOnce,
  script,
  sourceTree,
} from './sti-support.js';

const TOKEN = 'tok-5ecret-build-input-7781';
let s: TestSlipway;
let git: GitServer;
const ns = `bi-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  s = await startSlipway({ workers: 1 });
  git = await startGitDaemon();
  await s.apiJson('POST', `/api/v1/namespaces/${ns}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'registry-creds' },
    stringData: { token: TOKEN, '.npmrc': `//registry.example/:_authToken=${TOKEN}\n` },
  });
  await s.apiJson('POST', `/api/v1/namespaces/${ns}/configmaps`, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'app-settings' },
    data: { 'settings.txt': 'colour=blue' },
  });
}, 60_000);

afterAll(async () => {
  await s?.stop();
  await git?.stop();
  await cleanup();
});

const st = (b: Resource): Record<string, any> => (b.status ?? {}) as Record<string, any>;

/** A Docker-strategy BuildConfig `name` building `source` into `name:latest`. */
function dockerBc(
  name: string,
  source: Record<string, unknown>,
  dockerStrategy: Record<string, unknown> = {},
) {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source,
      strategy: { type: 'Docker', dockerStrategy },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
    },
  };
}

/** Creates `bc` when given, starts build `{name}-{version}` and answers it, its log and its image. */
async function buildOf(name: string, version: number, bc?: Record<string, unknown>) {
  if (bc) await s.apiJson('POST', BC_PATH(ns), bc);
  await s.apiJson('POST', `${BC_PATH(ns, name)}/instantiate`, { kind: 'BuildRequest', metadata: { name } });
  const b = await s.waitForBuild(ns, `${name}-${version}`);
  const log = await (await s.api('GET', `${BUILD_PATH(ns, `${name}-${version}`)}/log`)).text();
  return {
    b,
    status: st(b),
    log,
    image: `${s.registry.host}/${ns}/${name}@${st(b).output?.to?.imageDigest}`,
  };
}

/** Commits `files` as repository `name` and builds it once, without build avoidance. */
async function dockerBuild(name: string, files: Record<string, string>, source: Record<string, unknown>) {
  git.commit(name, files);
  return buildOf(
    name,
    1,
    dockerBc(name, { git: { uri: git.url(name), ref: 'main' }, ...source }, { noCache: true }),
  );
}

test('Docker strategy: the Secret and the ConfigMap are files in the context at their destinationDir; the Secret never shows in the log', async () => {
  const { status, log, image } = await dockerBuild(
    'docker-inputs',
    {
      'app/Dockerfile': [
        `FROM ${BASE_IMAGE}`,
        'COPY creds/token /run/token',
        'COPY settings.txt /etc/settings.txt',
        // A build step that prints the Secret: the log must show it masked.
        'RUN echo "token is $(cat /run/token)" && test "$(cat /run/token)" = "' +
          TOKEN +
          '" && rm /run/token',
        'CMD ["cat", "/etc/settings.txt"]',
        '',
      ].join('\n'),
    },
    {
      contextDir: 'app',
      secrets: [{ secret: { name: 'registry-creds' }, destinationDir: 'creds' }],
      configMaps: [{ configMap: { name: 'app-settings' } }],
    },
  );
  expect([status.phase, status.message]).toEqual(['Complete', undefined]);
  expect(log).toContain('Copying files from the build secret "registry-creds" to "creds"');
  expect(log).toContain('Copying files from the build config map "app-settings" to "."');
  expect(log).toContain('token is ');
  expect(log).not.toContain(TOKEN);
  expect(execFileSync('docker', ['run', '--rm', image], { encoding: 'utf8' })).toBe('colour=blue');
});

test('a Secret that does not exist fails the build with CannotRetrieveSecret, naming it; nothing is built', async () => {
  const { status, log } = await dockerBuild(
    'missing-input',
    { Dockerfile: `FROM ${BASE_IMAGE}\n` },
    { secrets: [{ secret: { name: 'not-there' } }] },
  );
  expect([status.phase, status.reason]).toEqual(['Failed', 'CannotRetrieveSecret']);
  expect(status.message).toContain('Secret "not-there" named by spec.source.secrets does not exist');
  expect(log).toContain('not-there');
  expect(status.stages?.map((x: { name: string }) => x.name) ?? []).not.toContain('Build');
});

test('inputs are checked on write: a destinationDir with "..", an absolute one for Docker, a duplicate, a key that is a path', async () => {
  const refused = async (path: string, body: unknown): Promise<any> => {
    const res = await s.api('POST', path, body);
    expect(res.status).toBe(422);
    return res.json();
  };
  const bc = (source: Record<string, unknown>) => ({
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name: `bad-${randomUUID().slice(0, 6)}` },
    spec: {
      source: { git: { uri: 'https://git.example.com/a.git' }, ...source },
      strategy: { type: 'Docker', dockerStrategy: {} },
    },
  });
  const causes = async (source: Record<string, unknown>) =>
    ((await refused(BC_PATH(ns), bc(source))).details.causes as { field: string; message: string }[]).map(
      (c) => `${c.field}: ${c.message}`,
    );
  expect(await causes({ secrets: [{ secret: { name: 'a' }, destinationDir: 'x/../../etc' }] })).toEqual([
    "spec.source.secrets[0].destinationDir: must not contain '..'",
  ]);
  expect(await causes({ configMaps: [{ configMap: { name: 'a' }, destinationDir: '/etc' }] })).toEqual([
    'spec.source.configMaps[0].destinationDir: for the Docker strategy, destinationDir must be a relative path (inside the context directory)',
  ]);
  expect(await causes({ secrets: [{ secret: { name: 'a' } }, { secret: { name: 'a' } }] })).toEqual([
    'spec.source.secrets[1].secret.name: Duplicate value: "a"',
  ]);
  const secret = await refused(`/api/v1/namespaces/${ns}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'pathlike' },
    stringData: { '../../etc/cron.d/x': 'boom' },
  });
  expect(JSON.stringify(secret.details.causes)).toContain(
    "a key must consist of alphanumeric characters, '-', '_' or '.'",
  );
  const cm = await refused(`/api/v1/namespaces/${ns}/configmaps`, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'dotdot' },
    data: { '..data': 'x' },
  });
  expect(cm.details.causes).toMatchObject([
    { field: 'data[..data]', message: "a key must not be '.' or start with '..'" },
  ]);
});

describe('image sources (spec.source.images)', () => {
  const artifacts = (release: string): Record<string, string> => ({
    Dockerfile: [
      `FROM ${BASE_IMAGE}`,
      `RUN mkdir -p /artifacts/site && echo "app ${release}" > /artifacts/app.txt && echo "page ${release}" > /artifacts/site/index.html && ln -s index.html /artifacts/site/home.html`,
      '',
    ].join('\n'),
  });
  const consumer = dockerBc('consumer', {
    git: { uri: '', ref: 'main' },
    images: [
      {
        from: { kind: 'ImageStreamTag', name: 'artifacts:latest' },
        paths: [
          { sourcePath: '/artifacts/app.txt', destinationDir: 'copied' },
          { sourcePath: '/artifacts/site/.', destinationDir: 'web' },
        ],
      },
    ],
  });

  it("copies a file and a directory's content out of another build's image; a changed image is built again, the same one reused", async () => {
    git.commit('artifacts', artifacts('v1'));
    const first = await buildOf(
      'artifacts',
      1,
      dockerBc('artifacts', { git: { uri: git.url('artifacts'), ref: 'main' } }),
    );
    expect(first.status.phase).toBe('Complete');
    git.commit('consumer', {
      Dockerfile: `FROM ${BASE_IMAGE}\nCOPY copied/app.txt web/ /out/\nCMD ["sh", "-c", "cat /out/app.txt /out/index.html; readlink /out/home.html || echo copied-as-file"]\n`,
    });
    const bc = {
      ...consumer,
      spec: {
        ...consumer.spec,
        source: { ...consumer.spec.source, git: { uri: git.url('consumer'), ref: 'main' } },
      },
    };
    const one = await buildOf('consumer', 1, bc);
    expect([one.status.phase, one.status.message]).toEqual(['Complete', undefined]);
    expect(one.log).toContain(
      'Copied 1 entries from /artifacts/app.txt of image artifacts:latest to "copied"',
    );
    expect(execFileSync('docker', ['run', '--rm', one.image], { encoding: 'utf8' })).toContain(
      'app v1\npage v1\n',
    );

    // The same inputs: reused. The image source rebuilt with other content: built again.
    const two = await buildOf('consumer', 2);
    expect(two.b.metadata.annotations?.['slipway.dev/reused-from']).toBe('consumer-1');
    git.commit('artifacts', artifacts('v2'));
    expect((await buildOf('artifacts', 2)).status.phase).toBe('Complete');
    const three = await buildOf('consumer', 3);
    expect(three.status.phase).toBe('Complete');
    expect(three.b.metadata.annotations?.['slipway.dev/reused-from']).toBeUndefined();
    expect(execFileSync('docker', ['run', '--rm', three.image], { encoding: 'utf8' })).toContain(
      'app v2\npage v2\n',
    );
  });

  it('a path the image does not have, and an image entry linking to a host path, fail with FetchImageContentFailed', async () => {
    git.commit('evil-image', {
      Dockerfile: `FROM ${BASE_IMAGE}\nRUN mkdir /bad && ln -s /etc/passwd /bad/passwd\n`,
    });
    expect(
      (
        await buildOf(
          'evil-image',
          1,
          dockerBc('evil-image', { git: { uri: git.url('evil-image'), ref: 'main' } }),
        )
      ).status.phase,
    ).toBe('Complete');
    git.commit('takes-evil', { Dockerfile: `FROM ${BASE_IMAGE}\n` });
    const take = (name: string, sourcePath: string) =>
      buildOf(
        name,
        1,
        dockerBc(name, {
          git: { uri: git.url('takes-evil'), ref: 'main' },
          images: [{ from: { kind: 'ImageStreamTag', name: 'evil-image:latest' }, paths: [{ sourcePath }] }],
        }),
      );
    const link = await take('takes-link', '/bad/.');
    expect([link.status.phase, link.status.reason]).toEqual(['Failed', 'FetchImageContentFailed']);
    expect(link.status.message).toContain(
      'entry "./passwd" is a symbolic link to an absolute path; the archive is refused',
    );
    const missing = await take('takes-missing', '/not/there');
    expect([missing.status.phase, missing.status.reason]).toEqual(['Failed', 'FetchImageContentFailed']);
    expect(missing.status.message).toBe('"/not/there" does not exist in image "evil-image:latest"');
  });

  it('is checked on write: a relative sourcePath, a destinationDir with "..", and `as`', async () => {
    const res = await s.api(
      'POST',
      BC_PATH(ns),
      dockerBc('bad-images', {
        git: { uri: 'https://git.example.com/a.git' },
        images: [
          {
            from: { kind: 'DockerImage', name: 'x' },
            paths: [{ sourcePath: 'rel', destinationDir: '../up' }],
          },
          { from: { kind: 'DockerImage', name: 'y' }, as: ['builder'] },
        ],
      }),
    );
    expect(res.status).toBe(422);
    const causes = ((await res.json()) as any).details.causes.map((c: any) => c.field);
    expect(causes).toEqual([
      'spec.source.images[0].paths[0].sourcePath',
      'spec.source.images[0].paths[0].destinationDir',
      'spec.source.images[1].as',
    ]);
  });
});

describe('Source strategy', () => {
  let builder: string;
  const secretInput = (): BuildInputFiles => ({
    kind: 'Secret',
    name: 'registry-creds',
    destinationDir: 'creds',
    files: [{ name: 'token', content: Buffer.from(TOKEN) }],
  });
  beforeAll(async () => {
    await ensureBuilderImages();
    builder = await buildImage(
      'inputs-builder',
      [
        'ARG BASE_IMAGE',
        'FROM ${BASE_IMAGE}',
        'RUN useradd -u 2345 -m -s /bin/bash builder && mkdir -p /opt/app && chown builder /opt/app',
        'WORKDIR /opt/app',
        'COPY s2i/ /usr/libexec/s2i/',
        'LABEL io.openshift.s2i.scripts-url="image:///usr/libexec/s2i" io.openshift.s2i.assemble-user="builder"',
        'USER 2345',
        '',
      ].join('\n'),
      {
        's2i/assemble': script(
          [
            '#!/bin/bash',
            'set -e',
            // What assemble saw, kept in the image without the Secret's value.
            'echo "secret $(stat -c %a creds/token) $(sha256sum < creds/token | cut -c1-16)" > /opt/app/seen.txt',
            'echo "config $(cat /etc/app/settings.txt)" >> /opt/app/seen.txt',
            '',
          ].join('\n'),
        ),
        's2i/run': script('#!/bin/sh\ncat /opt/app/seen.txt\n'),
      },
    );
  });

  it('injects the Secret relative to the working directory and the ConfigMap at an absolute path; the Secret is empty in the image', async () => {
    const build = input({
      fromImage: builder,
      sourceDir: sourceTree({ 'README.md': 'app\n' }),
      spec: {
        source: {
          type: 'Git',
          git: { uri: 'https://git.example.com/team/app.git', ref: 'main' },
          secrets: [{ secret: { name: 'registry-creds' }, destinationDir: 'creds' }],
          configMaps: [{ configMap: { name: 'app-settings' }, destinationDir: '/etc/app' }],
        },
      },
    });
    build.inputs = [
      secretInput(),
      {
        kind: 'ConfigMap',
        name: 'app-settings',
        destinationDir: '/etc/app',
        files: [{ name: 'settings.txt', content: Buffer.from('colour=blue') }],
      },
    ];
    const { imageId } = await sourceBuilder(build);
    expect(build.lines).toContain('Injecting the build secret "registry-creds" into /opt/app/creds');
    expect(build.lines).toContain('Injecting the build config map "app-settings" into /etc/app');
    const digest = execFileSync('sha256sum', { input: TOKEN, encoding: 'utf8' }).slice(0, 16);
    expect((await runOnce(imageId)).output).toBe(`secret 666 ${digest}\nconfig colour=blue\n`);
    // OpenShift's rule: the Secret's file stays in the image, truncated; the ConfigMap's stays whole.
    const files = await runOnce(
      imageId,
      ['sh', '-c', 'wc -c < /opt/app/creds/token; cat /etc/app/settings.txt'],
      {
        entrypoint: [],
      },
    );
    expect(files.output).toBe('0\ncolour=blue');
  });

  it('a builder image with a dependency layer: the install gets the Secret too, and neither the layer nor the image keeps its value', async () => {
    const lock = {
      name: 'inputs-app',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: { '': { name: 'inputs-app', version: '1.0.0' } },
    };
    const build = input({
      fromImage: 'slipway/s2i-nodejs:latest',
      sourceDir: sourceTree({
        'package.json': JSON.stringify({
          name: 'inputs-app',
          version: '1.0.0',
          private: true,
          scripts: { start: 'node -e 0' },
        }),
        'package-lock.json': JSON.stringify(lock),
      }),
      sourceStrategy: { incremental: true },
    });
    build.inputs = [secretInput()];
    const { imageId } = await sourceBuilder(build);
    expect(build.lines.some((l) => l.startsWith('Installing dependencies from'))).toBe(true);
    const sizes = (image: string) =>
      runOnce(image, ['sh', '-c', 'wc -c < creds/token; stat -c %a creds/token'], { entrypoint: [] });
    expect((await sizes(imageId)).output).toBe('0\n666\n');
    // The output image carries the layer's labels too: the layer is the one tagged as such.
    const layers = (
      await docker.listImages({
        filters: JSON.stringify({ label: [`${DependencyNamespaceLabel}=${TEST_NAMESPACE}`] }),
      })
    ).filter((i) => i.RepoTags?.some((t) => t.startsWith(`${DependencyRepository}:`)));
    expect(layers).toHaveLength(1);
    expect((await sizes(layers[0]!.Id)).output).toBe('0\n666\n');
  });
});
