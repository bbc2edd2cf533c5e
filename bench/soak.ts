/**
 * Soak: a stream of distinct signed GitHub push deliveries to one BuildConfig's webhook,
 * CONCURRENCY at a time, each delivered twice (a redelivery repeats X-GitHub-Delivery),
 * against a `slipway server` process with its own Redis, while a `slipway worker`
 * process builds them and is SIGKILLed and replaced midway. Prints deliveries, builds,
 * duplicates, deliveries without a build and 5xx counts. Not part of `npm test`:
 *
 *   npm run bench:soak
 *
 * SOAK_DELIVERIES (default 2000), SOAK_CONCURRENCY (20) and SOAK_COPIES (2: each delivery
 * sent this many times) size the run. The builds fetch commits the repository does not
 * have, so each fails fast at FetchSourceFailed: the worker's load is real but short.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { freePort, startGitDaemon, startRedis, waitFor } from '../test/support/stack.js';
import { githubHeaders, pushPayload } from '../test/support/webhooks.js';

const DELIVERIES = Number(process.env.SOAK_DELIVERIES ?? 2000);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 20);
const COPIES = Number(process.env.SOAK_COPIES ?? 2);
const SECRET = `soak-${randomUUID()}`;
const TOKEN = `soak-${randomUUID()}`;
const NS = 'soak';
const BC = 'flood';

function start(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, ['bin/slipway.js', ...args], {
    env: { ...process.env, SLIPWAY_LOG_LEVEL: 'warn', ...env },
  });
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const git = await startGitDaemon();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    SLIPWAY_REDIS_URL: redis.url,
    SLIPWAY_REGISTRY: '127.0.0.1:1',
    SLIPWAY_ADMIN_TOKEN: TOKEN,
    SLIPWAY_WORKER_LOCK_MS: '4000',
    SLIPWAY_STALLED_INTERVAL_MS: '2000',
  };
  const server = start(['server'], { ...env, SLIPWAY_LISTEN: `127.0.0.1:${port}` });
  const workerEnv = async (): Promise<Record<string, string>> => ({
    ...env,
    SLIPWAY_ROUTER_LISTEN: `127.0.0.1:${await freePort()}`,
  });
  let worker = start(['worker'], await workerEnv());
  const children = (): ChildProcess[] => [server.child, worker.child];
  try {
    await waitFor('the server', async () => server.output().includes('listening on'), 30000);
    await waitFor('the worker', async () => worker.output().includes('taking builds'), 30000);
    git.commit(BC, { Dockerfile: 'FROM scratch\n' });
    const api = (method: string, path: string, body?: unknown): Promise<Response> =>
      fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    const bcPath = `/apis/build.openshift.io/v1/namespaces/${NS}/buildconfigs`;
    const created = await api('POST', bcPath, {
      apiVersion: 'build.openshift.io/v1',
      kind: 'BuildConfig',
      metadata: { name: BC, namespace: NS },
      spec: {
        runPolicy: 'Parallel',
        // Keep every build so the count at the end is of all of them.
        successfulBuildsHistoryLimit: 1_000_000,
        failedBuildsHistoryLimit: 1_000_000,
        source: { git: { uri: git.url(BC), ref: 'main' } },
        strategy: { type: 'Docker', dockerStrategy: {} },
        triggers: [{ type: 'GitHub', github: { secret: SECRET } }],
      },
    });
    if (!created.ok) throw new Error(`creating the BuildConfig: ${created.status} ${await created.text()}`);

    const deliveries = Array.from({ length: DELIVERIES }, () => ({
      id: randomUUID(),
      commit: randomBytes(20).toString('hex'),
    }));
    const sends = Array.from({ length: COPIES }, () => deliveries)
      .flat()
      .map((d) => ({ d, key: Math.random() }))
      .sort((a, b) => a.key - b.key)
      .map(({ d }) => d);
    const statuses = new Map<number, number>();
    const buildsOf = new Map<string, number>();
    const url = `${base}${bcPath}/${BC}/webhooks/${SECRET}/github`;
    let next = 0;
    let killed = false;
    const started = Date.now();
    const loop = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        const d = sends[i];
        if (!d) return;
        if (!killed && i >= sends.length / 2) {
          killed = true;
          worker.child.kill('SIGKILL');
          worker = start(['worker'], await workerEnv());
        }
        const body = JSON.stringify(
          pushPayload({ cloneUrl: git.url(BC), ref: 'refs/heads/main', after: d.commit }),
        );
        let status = 0; // stays 0 when the connection fails: counted as an error below
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: await githubHeaders('push', body, SECRET, d.id),
            body,
          });
          status = res.status;
          const answer = (await res.json().catch(() => ({}))) as { kind?: string };
          if (answer.kind === 'Build') buildsOf.set(d.id, (buildsOf.get(d.id) ?? 0) + 1);
        } catch {
          // no answer
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, loop));
    const seconds = (Date.now() - started) / 1000;

    const list = (await (
      await api('GET', `/apis/build.openshift.io/v1/namespaces/${NS}/builds?labelSelector=buildconfig=${BC}`)
    ).json()) as {
      items: { spec: { revision?: { git?: { commit?: string } } }; status?: { phase?: string } }[];
    };
    const perCommit = new Map<string, number>();
    for (const b of list.items) {
      const c = b.spec.revision?.git?.commit ?? '';
      perCommit.set(c, (perCommit.get(c) ?? 0) + 1);
    }
    const phases = new Map<string, number>();
    for (const b of list.items) {
      const p = b.status?.phase ?? 'none';
      phases.set(p, (phases.get(p) ?? 0) + 1);
    }
    const duplicates = [...perCommit.values()].filter((n) => n > 1).length;
    const withoutBuild = deliveries.filter((d) => !perCommit.has(d.commit)).length;
    const fiveXX = [...statuses].filter(([s]) => s >= 500 || s === 0).reduce((a, [, n]) => a + n, 0);
    console.log(
      `soak: ${sends.length} requests (${DELIVERIES} distinct deliveries × ${COPIES}), ${CONCURRENCY} at a time, in ${seconds.toFixed(1)} s`,
    );
    console.log(
      `  answers by status:       ${[...statuses].map(([s, n]) => `${s || 'no answer'}: ${n}`).join(', ')}`,
    );
    console.log(`  5xx (or no answer):      ${fiveXX}`);
    console.log(`  builds answered:         ${[...buildsOf.values()].reduce((a, b) => a + b, 0)}`);
    console.log(`  builds stored:           ${list.items.length}`);
    console.log(`  duplicate builds:        ${duplicates}`);
    console.log(`  deliveries with no build: ${withoutBuild}`);
    console.log(`  build phases now:        ${[...phases].map(([p, n]) => `${p} ${n}`).join(', ')}`);
    console.log(`  worker killed and replaced midway: ${killed}`);
    if (fiveXX > 0 || duplicates > 0 || withoutBuild > 0) process.exitCode = 1;
  } finally {
    for (const c of children()) c.kill('SIGKILL');
    await redis.stop();
    await git.stop();
  }
}

await main();
