/**
 * Source-to-image through the whole pipeline: Slipway's builder images registered as
 * ImageStreams in `openshift` (as `slipway up` does), a BuildConfig with no Dockerfile
 * in its repository, the build pushed, then run and answering HTTP on loopback.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { registerBuilderImages } from '../../src/registry/builder-streams.js';
import { removeDependencyImages } from './sti-support.js';
import { startGitDaemon, waitFor, type GitServer } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, IS_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

let s: TestSlipway;
let git: GitServer;
const ns = `s2i-${randomUUID().slice(0, 8)}`;
const containers: string[] = [];

beforeAll(async () => {
  // npm's registry presents a chain only the host's CA bundle trusts (OpenShift's mountTrustedCA).
  s = await startSlipway({ workers: 1, config: { trustedCA: '/etc/ssl/certs/ca-certificates.crt' } });
  git = await startGitDaemon();
  const registered = await registerBuilderImages({
    docker: s.rt.docker,
    store: s.rt.store,
    registry: s.registry.host,
    log: () => undefined,
  });
  expect(registered).toEqual([
    'openshift/nodejs:latest',
    'openshift/python:latest',
    'openshift/static:latest',
  ]);
  // Pushing the three builder images into a fresh registry takes minutes on a busy machine.
}, 600000);
afterAll(async () => {
  for (const c of containers) execFileSync('docker', ['rm', '-f', c], { stdio: 'ignore' });
  await s?.stop();
  await git?.stop();
  await removeDependencyImages(ns);
});

function sourceBuildConfig(
  name: string,
  builder: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name },
    spec: {
      source: { git: { uri: git.url(name), ref: 'main' } },
      strategy: {
        type: 'Source',
        sourceStrategy: {
          from: { kind: 'ImageStreamTag', namespace: 'openshift', name: `${builder}:latest` },
          ...extra,
        },
      },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
    },
  };
}

async function runAndGet(image: string, path = '/'): Promise<string> {
  const id = execFileSync('docker', ['run', '-d', '-p', '127.0.0.1::8080', image], {
    encoding: 'utf8',
  }).trim();
  containers.push(id);
  const port = execFileSync('docker', ['port', id, '8080/tcp'], { encoding: 'utf8' }).trim().split(':').pop();
  return waitFor(
    `${image} to answer`,
    async () => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return res.ok ? res.text() : undefined;
    },
    60000,
    250,
  );
}

test('the builder ImageStreams exist in namespace openshift, pointing at the internal registry', async () => {
  const stream = await s.apiJson('GET', IS_PATH('openshift', 'static'));
  const item = (stream.status as any).tags[0].items[0];
  expect(item.dockerImageReference).toMatch(new RegExp(`^${s.registry.host}/openshift/static@sha256:`));
});

test('a repository of plain files builds with the static builder and serves them', async () => {
  const marker = randomUUID();
  git.commit('site', { 'index.html': `<h1>${marker}</h1>\n` });
  await s.apiJson('POST', `${BC_PATH(ns)}`, sourceBuildConfig('site', 'static'));
  await s.apiJson('POST', `${BC_PATH(ns, 'site')}/instantiate`, {});
  const build = await s.waitForBuild(ns, 'site-1', undefined, 300000);
  expect([(build.status as any).phase, (build.status as any).message]).toEqual(['Complete', undefined]);
  const image = `${s.registry.host}/${ns}/site@${(build.status as any).output.to.imageDigest}`;
  expect(await runAndGet(image)).toContain(marker);
  const stages = ((build.status as any).stages as { name: string }[]).map((st) => st.name);
  expect(stages).toEqual(['FetchInputs', 'PullImages', 'Build', 'PushImage']);
  expect((build.spec as any).strategy.sourceStrategy.from.name).toBe('static:latest');
  expect(await (await s.api('GET', `${BUILD_PATH(ns, 'site-1')}/log`)).text()).toContain('Pushing image');
}, 900000);

test('a Node.js app builds with the nodejs builder, and an incremental rebuild reuses its dependency layer', async () => {
  const pkg = {
    name: 'hello',
    version: '1.0.0',
    private: true,
    scripts: { start: 'node server.js' },
    dependencies: { 'is-number': '7.0.0' },
  };
  const server = (greeting: string): string =>
    `const isNumber = require('is-number');\nrequire('http').createServer((q, r) => r.end('${greeting} ' + isNumber(5))).listen(8080);\n`;
  git.commit('nodeapp', { 'package.json': JSON.stringify(pkg, null, 2), 'server.js': server('first') });
  await s.apiJson('POST', BC_PATH(ns), sourceBuildConfig('nodeapp', 'nodejs', { incremental: true }));
  await s.apiJson('POST', `${BC_PATH(ns, 'nodeapp')}/instantiate`, {});
  const first = await s.waitForBuild(ns, 'nodeapp-1', undefined, 600000);
  expect([
    (first.status as any).phase,
    (first.status as any).message,
    (first.status as any).logSnippet,
  ]).toEqual(['Complete', undefined, undefined]);
  const firstLog = await (await s.api('GET', `${BUILD_PATH(ns, 'nodeapp-1')}/log`)).text();
  expect(firstLog).toMatch(/Installing dependencies with npm (ci|install)/);
  expect(
    await runAndGet(`${s.registry.host}/${ns}/nodeapp@${(first.status as any).output.to.imageDigest}`),
  ).toBe('first true');

  git.commit('nodeapp', { 'server.js': server('second') });
  await s.apiJson('POST', `${BC_PATH(ns, 'nodeapp')}/instantiate`, {});
  const second = await s.waitForBuild(ns, 'nodeapp-2', undefined, 600000);
  expect((second.status as any).phase).toBe('Complete');
  const secondLog = await (await s.api('GET', `${BUILD_PATH(ns, 'nodeapp-2')}/log`)).text();
  expect(secondLog).toMatch(/Incremental build: reusing the dependency layer /);
  expect(secondLog).not.toMatch(/Installing dependencies with npm/);
  // The registry has every layer but the application's from the first push.
  expect(secondLog.match(/: Pushed$/gm)).toHaveLength(1);
  expect(secondLog).toMatch(/: Layer already exists$/m);
  expect(
    await runAndGet(`${s.registry.host}/${ns}/nodeapp@${(second.status as any).output.to.imageDigest}`),
  ).toBe('second true');
  const labels = JSON.parse(
    execFileSync(
      'docker',
      [
        'image',
        'inspect',
        '-f',
        '{{json .Config.Labels}}',
        `${s.registry.host}/${ns}/nodeapp@${(second.status as any).output.to.imageDigest}`,
      ],
      { encoding: 'utf8' },
    ),
  );
  // s2i names the image as the build's output, never the worker's temporary tag.
  expect(labels['io.k8s.display-name']).toMatch(new RegExp(`(^|/)${ns}/nodeapp:latest$`));
}, 900000);
