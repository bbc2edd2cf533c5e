/**
 * Build avoidance on the real stack (git daemon, worker, Docker engine, docker-registry,
 * Redis): a build whose inputs are those of an earlier Complete build reuses its image
 * (tagged to the output, recorded in status, said in the log); noCache, a new commit or
 * an image gone from the registry make a real build. Every Dockerfile writes a fresh
 * random id into the image, so a real build always makes a new digest and a reused one
 * can only be the earlier build's.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { BASE_IMAGE, startGitDaemon, type GitServer } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, IS_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

let s: TestSlipway;
let git: GitServer;
const ns = `t-${randomUUID().slice(0, 8)}`;
const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

const DOCKERFILE = `FROM ${BASE_IMAGE}\nARG FLAVOUR=plain\nRUN cat /proc/sys/kernel/random/uuid > /stamp && echo "$FLAVOUR" > /flavour\n`;

beforeAll(async () => {
  s = await startSlipway({ workers: 1 });
  git = await startGitDaemon();
});

afterAll(async () => {
  await s?.stop();
  await git?.stop();
});

interface BuildStatus {
  phase: string;
  message?: string;
  reason?: string;
  output?: { to?: { imageDigest?: string } };
  stages?: { name: string }[];
}

async function createConfig(name: string): Promise<void> {
  git.commit(name, { Dockerfile: DOCKERFILE });
  await s.apiJson('POST', BC_PATH(ns), {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { git: { uri: git.url(name), ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: {} },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
    },
  });
}

/** Starts a build, waits for its end, and returns it with its log. */
async function build(
  bc: string,
  request: Record<string, unknown> = {},
): Promise<{ b: Resource; st: BuildStatus; log: string }> {
  const created = await s.apiJson('POST', `${BC_PATH(ns, bc)}/instantiate`, {
    kind: 'BuildRequest',
    metadata: { name: bc },
    ...request,
  });
  const b = await s.waitForBuild(ns, created.metadata.name);
  const log = await (await s.api('GET', `${BUILD_PATH(ns, created.metadata.name)}/log`)).text();
  return { b, st: b.status as unknown as BuildStatus, log };
}

/** The digest the registry's tag points at now. */
async function registryTag(repository: string, tag: string): Promise<string | null> {
  const res = await fetch(`http://${s.registry.host}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { Accept: MANIFEST },
  });
  return res.ok ? res.headers.get('docker-content-digest') : null;
}

async function streamTagDigest(stream: string): Promise<string | undefined> {
  const is = await s.apiJson<Resource>('GET', IS_PATH(ns, stream));
  const tags = (is.status as { tags?: { tag: string; items: { image: string }[] }[] }).tags ?? [];
  return tags.find((t) => t.tag === 'latest')?.items[0]?.image;
}

test('a build with the same inputs reuses the earlier image; noCache and a new commit build for real', async () => {
  await createConfig('same');
  const first = await build('same');
  expect(first.st.phase).toBe('Complete');
  const d1 = first.st.output!.to!.imageDigest!;
  expect(d1).toMatch(/^sha256:/);
  expect(first.b.metadata.annotations?.['slipway.dev/reused-from']).toBeUndefined();

  // Other build args: other inputs, a real build, and the tag moves to its image.
  const other = await build('same', {
    dockerStrategyOptions: { buildArgs: [{ name: 'FLAVOUR', value: 'spicy' }] },
  });
  expect(other.st.phase).toBe('Complete');
  expect(other.st.message).toBeUndefined();
  const d2 = other.st.output!.to!.imageDigest!;
  expect(d2).not.toBe(d1);
  expect(await registryTag(`${ns}/same`, 'latest')).toBe(d2);

  // The first build's inputs again: its image comes back to the output, nothing is built.
  const again = await build('same');
  expect(again.st.phase).toBe('Complete');
  expect(again.st.reason).toBeUndefined();
  expect(again.st.output?.to?.imageDigest).toBe(d1);
  expect(again.st.message).toBe(`Reused the image of build same-1 (same inputs)`);
  expect(again.b.metadata.annotations?.['slipway.dev/reused-from']).toBe('same-1');
  expect(again.log).toContain(`Reused the image ${d1} of build ${ns}/same-1`);
  expect(again.log).not.toContain('Step 1/');
  expect((again.st.stages ?? []).map((st) => st.name)).not.toContain('Build');
  const revision = (again.b.spec as { revision?: { git?: { commit?: string } } }).revision;
  expect(revision?.git?.commit).toBe(
    (first.b.spec as { revision?: { git?: { commit?: string } } }).revision?.git?.commit,
  );
  expect(await registryTag(`${ns}/same`, 'latest')).toBe(d1);
  expect(await streamTagDigest('same')).toBe(d1);

  // start-build --no-cache: a real build (a new random id, so a new digest).
  const forced = await build('same', { dockerStrategyOptions: { noCache: true } });
  expect(forced.st.phase).toBe('Complete');
  expect(forced.st.message).toBeUndefined();
  expect(forced.b.metadata.annotations?.['slipway.dev/reused-from']).toBeUndefined();
  expect(forced.log).toContain('noCache is set');
  expect(forced.log).toContain('Step 1/');
  const d3 = forced.st.output!.to!.imageDigest!;
  expect([d1, d2]).not.toContain(d3);

  // The forced build is now the newest image for these inputs: the next one reuses it.
  const afterForced = await build('same');
  expect(afterForced.st.output?.to?.imageDigest).toBe(d3);
  expect(afterForced.st.message).toBe(`Reused the image of build ${forced.b.metadata.name} (same inputs)`);

  // A new commit is a new input.
  git.commit('same', { 'README.md': 'a change\n' });
  const changed = await build('same');
  expect(changed.st.phase).toBe('Complete');
  expect(changed.st.message).toBeUndefined();
  expect(changed.log).toContain('Step 1/');
  expect([d1, d2, d3]).not.toContain(changed.st.output?.to?.imageDigest);
}, 400_000);

test('an image gone from the registry is built again, and the new one is reused next', async () => {
  await createConfig('gone');
  const first = await build('gone');
  expect(first.st.phase).toBe('Complete');
  const d1 = first.st.output!.to!.imageDigest!;
  const del = await fetch(`http://${s.registry.host}/v2/${ns}/gone/manifests/${d1}`, { method: 'DELETE' });
  expect(del.status).toBe(202);

  const second = await build('gone');
  expect(second.st.phase).toBe('Complete');
  expect(second.st.message).toBeUndefined();
  expect(second.log).toContain(`The image ${d1} of build gone-1 (same inputs) is no longer in the registry`);
  // Built for real (Docker's layer cache may well make the same image again) and pushed.
  expect(second.log).toContain('Step 1/');
  const d2 = second.st.output!.to!.imageDigest!;
  expect(await registryTag(`${ns}/gone`, 'latest')).toBe(d2);

  const third = await build('gone');
  expect(third.st.output?.to?.imageDigest).toBe(d2);
  expect(third.st.message).toBe('Reused the image of build gone-2 (same inputs)');
}, 300_000);
