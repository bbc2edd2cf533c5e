/**
 * The Docker engine restarted under a running build, Docker and Source (S2I) alike. The
 * engine is a private `dockerd`
 * (test/faults/private-engine.ts), so the restart disturbs nothing else on the machine;
 * a `slipway worker` child process builds on it. The build caught by the restart must not
 * hang: it ends within a bounded time as a failed build with OpenShift's reason and a log
 * line saying the engine went away. The worker lives on, builds again once the engine is
 * back, and the engine is left with no build containers and no `slipway-build/*` tags.
 */
import { randomUUID } from 'node:crypto';
import { watchEngine } from '../../src/builders/engine-watch.js';
import type { Resource } from '../../src/core/resource.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { BASE_IMAGE, startGitDaemon, waitFor, type GitServer } from '../support/stack.js';
import { dockerdMissing, privateEngine } from './private-engine.js';
import { spawnWorker, type WorkerProcess } from './replicas-support.js';

const run = randomUUID().slice(0, 8);
const ns = `be-${run}`;
const engine = privateEngine({ id: run, subnet: '10.214.254' });
/** How long the build caught by the restart may take to end once the engine is stopped. */
const END_WITHIN_MS = 45000;

let s: TestSlipway;
let git: GitServer;
let worker: WorkerProcess | undefined;

const dockerfile = (pause: number) =>
  `FROM ${BASE_IMAGE}\nRUN echo "pausing ${pause}s" && sleep ${pause}\nCMD ["true"]\n`;

async function logOf(name: string): Promise<string> {
  return (await s.api('GET', `${BUILD_PATH(ns, name)}/log`)).text();
}

async function phaseOf(name: string): Promise<Record<string, unknown>> {
  return ((await s.apiJson('GET', BUILD_PATH(ns, name))).status ?? {}) as Record<string, unknown>;
}

/** BuildConfig `name` building repository `name` with `strategy` into `name:latest`. */
async function createBuildConfig(name: string, strategy: Record<string, unknown>): Promise<void> {
  const bc: Resource = {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { git: { uri: git.url(name), ref: 'main' } },
      strategy,
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
    },
  };
  await s.apiJson('POST', BC_PATH(ns), bc);
}

async function instantiate(bc = 'slow'): Promise<string> {
  const created = await s.apiJson('POST', `${BC_PATH(ns, bc)}/instantiate`, {
    kind: 'BuildRequest',
    metadata: { name: bc },
  });
  return created.metadata.name;
}

async function endOf(name: string): Promise<Record<string, unknown>> {
  return waitFor(
    `${name} to end`,
    async () => {
      const st = await phaseOf(name);
      return ['Complete', 'Failed', 'Error', 'Cancelled'].includes(st.phase as string) ? st : undefined;
    },
    END_WITHIN_MS,
    250,
  );
}

async function nothingLeft(): Promise<void> {
  await waitFor(
    'the engine to hold nothing of the builds',
    async () => (await leftovers()).length === 0,
    20000,
    500,
  ).catch(async (err: unknown) => {
    console.log(JSON.stringify(await leftovers()));
    throw err;
  });
}

/** What a build could leave in the engine: its containers and its local tags. */
async function leftovers(): Promise<string[]> {
  const found: string[] = [];
  for (const c of await engine.docker.listContainers({ all: true }))
    found.push(`container ${c.Id.slice(0, 12)} ${c.Names.join(',')} ${c.State}`);
  for (const i of await engine.docker.listImages())
    for (const t of i.RepoTags ?? []) if (t.startsWith('slipway-build/')) found.push(`tag ${t}`);
  return found;
}

beforeAll(async () => {
  if (dockerdMissing) return;
  await engine.start();
  engine.load(BASE_IMAGE);
  const before = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = engine.host;
  try {
    s = await startSlipway({ workers: 0 });
  } finally {
    if (before === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = before;
  }
  git = await startGitDaemon();
  worker = await spawnWorker({ redisUrl: s.redis.url, registry: s.registry.host, dockerHost: engine.host });
}, 120000);

afterAll(async () => {
  await worker?.stop().catch(() => undefined);
  await s?.stop();
  await git?.stop();
  await engine.destroy();
}, 120000);

(dockerdMissing ? test.skip : test)(
  'the engine restarted under a Docker build: the build ends with a reason, the worker builds again, nothing is left',
  async () => {
    git.commit('slow', { Dockerfile: dockerfile(30) });
    await createBuildConfig('slow', { type: 'Docker', dockerStrategy: {} });
    const first = await instantiate();
    // The RUN step has started: its container is running on the private engine.
    await waitFor(
      'the sleep step to run',
      async () => (await logOf(first)).includes('pausing 30s'),
      60000,
      250,
    );

    // A watch held open across the restart reports it though the engine answers again:
    // a worker slow to read the build's last message still learns the engine went away.
    const watch = await watchEngine(engine.docker);
    const stopped = Date.now();
    await engine.stop();
    await engine.start();
    await waitFor('the watch to see the restart', async () => watch.lost(), 5000, 50);
    watch.close();
    const quiet = await watchEngine(engine.docker);
    quiet.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(quiet.lost()).toBe(false);
    // Bounded: a build that hangs on the lost engine fails here.
    const ended = await endOf(first);
    const log = await logOf(first);
    console.log(
      `engine restart: ${first} ended ${ended.phase}/${ended.reason} ${Date.now() - stopped} ms after the stop: ${ended.message}`,
    );
    expect(['Failed', 'Error']).toContain(ended.phase);
    expect(ended.reason).toBe('DockerBuildFailed');
    expect(ended.message).toMatch(/Docker engine went away/);
    expect(log).toMatch(/error: .*Docker engine went away/);
    expect(worker!.child.exitCode).toBeNull();

    // The engine is back: the same worker builds again.
    git.commit('slow', { Dockerfile: dockerfile(0) });
    const second = await instantiate();
    const done = await s.waitForBuild(ns, second, undefined, 60000);
    const st = done.status as Record<string, unknown>;
    if (st.phase !== 'Complete') console.log(await logOf(second));
    expect([st.phase, st.reason]).toEqual(['Complete', undefined]);
    expect(worker!.child.exitCode).toBeNull();

    await nothingLeft();
  },
  150000,
);

(dockerdMissing ? test.skip : test)(
  'the engine restarted under an S2I assemble: the build ends saying so, the worker builds again, nothing is left',
  async () => {
    const source = (pause: number) => ({
      '.s2i/bin/assemble': `#!/bin/sh\necho "assembling, pausing ${pause}s"\nsleep ${pause}\n`,
      '.s2i/bin/run': '#!/bin/sh\nexec true\n',
    });
    git.commit('slow-s2i', source(30));
    await createBuildConfig('slow-s2i', {
      type: 'Source',
      sourceStrategy: { from: { kind: 'DockerImage', name: BASE_IMAGE } },
    });
    const first = await instantiate('slow-s2i');
    await waitFor(
      'assemble to run',
      async () => (await logOf(first)).includes('assembling, pausing 30s'),
      60000,
      250,
    );
    const stopped = Date.now();
    await engine.stop();
    await engine.start();
    const ended = await endOf(first);
    const log = await logOf(first);
    console.log(
      `engine restart: ${first} ended ${ended.phase}/${ended.reason} ${Date.now() - stopped} ms after the stop: ${ended.message}`,
    );
    expect(ended.phase).toBe('Error');
    expect(ended.message).toMatch(/^the Docker engine went away during the build/);
    expect(log).toMatch(/error: the Docker engine went away/);
    expect(worker!.child.exitCode).toBeNull();

    git.commit('slow-s2i', source(0));
    const second = await instantiate('slow-s2i');
    const done = await s.waitForBuild(ns, second, undefined, 60000);
    const st = done.status as Record<string, unknown>;
    if (st.phase !== 'Complete') console.log(await logOf(second));
    expect([st.phase, st.reason]).toEqual(['Complete', undefined]);
    await nothingLeft();
  },
  150000,
);
