/**
 * `slipway up` wires registry notifications end to end: the docker-registry it starts
 * notifies the server it runs, so a `docker push` shows up on the ImageStream; and a
 * second `up`, finding that registry still running, still gets its notifications (the
 * token is kept in the data directory). Runs the built CLI: `npm run build` first.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_IMAGE, freePort, startRedis, tempDir, waitFor, type RedisHandle } from '../support/stack.js';

let redis: RedisHandle;
let home: string;
const ns = `up-${randomUUID().slice(0, 8)}`;
const token = `admin-${randomUUID()}`;
const pushed: string[] = [];
let env: NodeJS.ProcessEnv;
let api: string;
let registry: string;

beforeAll(async () => {
  redis = await startRedis();
  home = tempDir('slipway-up-home-');
  api = `127.0.0.1:${await freePort()}`;
  registry = `127.0.0.1:${await freePort()}`;
  env = {
    ...process.env,
    HOME: home,
    SLIPWAY_DATA_DIR: join(home, 'data'),
    SLIPWAY_LISTEN: api,
    SLIPWAY_REGISTRY: registry,
    SLIPWAY_REDIS_URL: redis.url,
    SLIPWAY_ADMIN_TOKEN: token,
    SLIPWAY_LOG_LEVEL: 'silent',
  };
});

afterAll(async () => {
  // `up` leaves the registry it started running for the next `up`; this test stops it.
  const pidFile = join(home, 'data', 'registry', 'registry.pid');
  if (existsSync(pidFile)) {
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGTERM');
    } catch {
      // already gone
    }
  }
  await redis?.stop();
  rmSync(home, { recursive: true, force: true });
  for (const ref of pushed) {
    try {
      execFileSync('docker', ['image', 'rm', '-f', ref], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
});

async function up(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['bin/slipway.js', 'up'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  try {
    await waitFor(
      'slipway up to say it is up',
      async () => {
        if (child.exitCode !== null) throw new Error(`slipway up exited ${child.exitCode}:\n${out}`);
        // The summary is several writes to a pipe: they may arrive in more than one chunk.
        return out.includes('is up.') && out.includes('Registry webhooks:');
      },
      60000,
      100,
    );
    expect(out).toContain(`Registry webhooks:    http://${api}/webhooks/registry`);
  } catch (err) {
    // A failed start must not leave `up` running: it would keep Jest from exiting.
    await stop(child);
    throw err;
  }
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

function dockerPush(tag: string): string {
  const ref = `${registry}/${ns}/img:${tag}`;
  pushed.push(ref);
  execFileSync('docker', ['build', '-q', '-t', ref, '-'], {
    input: `FROM ${BASE_IMAGE}\nLABEL nonce=${randomUUID()}\n`,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const out = execFileSync('docker', ['push', ref], { encoding: 'utf8' });
  return /digest: (sha256:[0-9a-f]{64})/.exec(out)![1]!;
}

async function tagImage(tag: string): Promise<string | undefined> {
  const res = await fetch(`http://${api}/apis/image.openshift.io/v1/namespaces/${ns}/imagestreams/img`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!res.ok) return undefined;
  const is = (await res.json()) as { status?: { tags?: { tag: string; items: { image: string }[] }[] } };
  return is.status?.tags?.find((t) => t.tag === tag)?.items[0]?.image;
}

test('the registry `up` starts notifies its server, also after `up` restarts', async () => {
  expect(existsSync('dist/cli/main.js')).toBe(true); // `npm test` builds first
  const first = await up();
  try {
    const digest = dockerPush('v1');
    await waitFor('img:v1 on the ImageStream', async () => (await tagImage('v1')) === digest, 30000, 200);
  } finally {
    await stop(first);
  }
  const second = await up();
  try {
    const digest = dockerPush('v2');
    // The registry backs off after failed deliveries while no server listened: allow for its retry.
    await waitFor('img:v2 on the ImageStream', async () => (await tagImage('v2')) === digest, 60000, 200);
  } finally {
    await stop(second);
  }
});
