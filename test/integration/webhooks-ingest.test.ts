/**
 * The webhook endpoints' own node:http path in front of express, on a running Slipway:
 * every delivery answered 2xx is already claimed in Redis (and, when a BuildConfig uses
 * its repository, recorded for routing) when the answer arrives, routing starts each
 * build once, a redelivery starts nothing, and the path refuses what the express route
 * refused, with Status objects: oversized bodies (declared or streamed), a compressed
 * body, a bad signature, other methods, a parameter that does not decode. Paths that are
 * not webhooks still reach express. No workers: builds stay New.
 */
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import type { Resource } from '../../src/core/resource.js';
import { startPushRouting } from '../../src/runtime.js';
import { pushInboxKey } from '../../src/store/push-inbox.js';
import { RedisBuildConfigIndex } from '../../src/store/redis-buildconfig-index.js';
import { MAX_WEBHOOK_BODY_BYTES } from '../../src/webhooks/request.js';
import { waitFor } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { githubHeaders, post, pushPayload } from '../support/webhooks.js';

let s: TestSlipway;
const ns = `ingest-${randomUUID().slice(0, 8)}`;
const SECRET = `org-${randomUUID()}`;
const REPO = `https://github.com/ingest-${randomUUID().slice(0, 8)}/app.git`;

beforeAll(async () => {
  s = await startSlipway({ workers: 0, pushRouting: false, config: { githubSecret: SECRET } });
  await s.apiJson('POST', BC_PATH(ns), {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name: 'app', namespace: ns },
    spec: {
      runPolicy: 'Parallel',
      source: { git: { uri: REPO, ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: {} },
      triggers: [{ type: 'GitHub', github: { secret: 'per-bc-unused' } }],
    },
  });
  const index = new RedisBuildConfigIndex(s.rt.redis, s.rt.prefix);
  await waitFor('the BuildConfig indexed', async () => (await index.lookup([REPO])).length === 1);
});
afterAll(async () => s?.stop());

const orgUrl = (): string => `${s.http.url}/webhooks/github`;

async function push(
  cloneUrl: string,
  delivery: string,
  after = randomUUID().replace(/-/g, '').padEnd(40, '0'),
) {
  const body = JSON.stringify(pushPayload({ cloneUrl, ref: 'refs/heads/main', after }));
  return post(orgUrl(), body, await githubHeaders('push', body, SECRET, delivery));
}

/** The delivery ids recorded in the push inbox, waiting for routing. */
async function recorded(): Promise<string[]> {
  const entries = await s.rt.redis.xrange(pushInboxKey(s.rt.prefix), '-', '+');
  return entries.map(([, fields]) => fields[fields.indexOf('delivery') + 1]!);
}

test('every delivery answered 2xx is claimed, and recorded when it matches, when the answer arrives; routing builds each once', async () => {
  const deliveries = Array.from({ length: 40 }, (_, i) => ({
    id: randomUUID(),
    repo: i % 2 === 0 ? REPO : `https://github.com/nobody-${i}/unused.git`,
  }));
  const answers = await Promise.all(
    deliveries.map(async (d) => {
      const res = await push(d.repo, d.id);
      // Read Redis the moment the answer is in: nothing may be written after it.
      const claimed = await s.rt.redis.exists(`${s.rt.prefix}:delivery:github:${d.id}`);
      const inInbox = (await recorded()).filter((id) => id === `github:${d.id}`).length;
      return { ...d, status: res.status, claimed, inInbox, buildConfigs: res.body.buildConfigs };
    }),
  );
  for (const a of answers) {
    const matched = a.repo === REPO;
    expect(a).toEqual({
      ...a,
      status: 202,
      claimed: 1,
      inInbox: matched ? 1 : 0,
      buildConfigs: matched ? [`${ns}/app`] : [],
    });
  }

  // GitHub's redelivery repeats X-GitHub-Delivery: answered 200, nothing new recorded.
  const again = await Promise.all(deliveries.slice(0, 10).map((d) => push(d.repo, d.id)));
  for (const r of again) expect(r.status).toBe(200);
  expect(await recorded()).toHaveLength(20);

  const sample = async (series: string): Promise<number> => {
    const text = await (await fetch(`${s.http.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  expect(await sample('slipway_queue_jobs{queue="push-inbox",state="waiting"}')).toBe(20);

  // Routing (a worker's) starts one build per recorded delivery and empties the inbox;
  // two routers share it without building anything twice.
  const routers = [startPushRouting(s.rt), startPushRouting(s.rt)];
  try {
    await waitFor(
      'the routed pushes counted',
      async () => (await sample('slipway_pushes_routed_total{outcome="built"}')) === 20,
      20000,
      200,
    );
    await waitFor(
      '20 builds',
      async () => (await s.apiJson<{ items: Resource[] }>('GET', BUILD_PATH(ns))).items.length >= 20,
    );
    await waitFor('the inbox emptied', async () => (await recorded()).length === 0);
  } finally {
    for (const r of routers) await r.close();
  }
  const list = await s.apiJson<{ items: Resource[] }>('GET', BUILD_PATH(ns));
  expect(list.items).toHaveLength(20);
  const commits = list.items.map(
    (b) => (b.spec as { revision: { git: { commit: string } } }).revision.git.commit,
  );
  expect(new Set(commits).size).toBe(20);
});

test('a body declared larger than the limit is a 413 Status before it is read', async () => {
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(orgUrl(), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': String(MAX_WEBHOOK_BODY_BYTES + 1),
        'x-github-event': 'push',
      },
    });
    req.on('response', (r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += c.toString()));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.write('{"a":');
  });
  expect(res.status).toBe(413);
  expect(JSON.parse(res.body)).toMatchObject({ kind: 'Status', code: 413, reason: 'RequestEntityTooLarge' });
});

test('a streamed body that grows past the limit is a 413 Status', async () => {
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(orgUrl(), { method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('response', (r) => {
      r.resume();
      resolve(r.statusCode ?? 0);
      req.destroy();
    });
    // The answer may come while the body is still going out: stop sending then.
    req.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err),
    );
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let sent = 0;
    const more = (): void => {
      while (sent <= MAX_WEBHOOK_BODY_BYTES && !req.destroyed) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', more);
      }
    };
    more();
  });
  expect(status).toBe(413);
});

test('the path refuses what the express route refused, each with a Status naming the problem', async () => {
  const body = JSON.stringify(pushPayload({ cloneUrl: REPO, ref: 'refs/heads/main', after: 'b'.repeat(40) }));
  const headers = await githubHeaders('push', body, SECRET);

  const gzip = await post(orgUrl(), body, { ...headers, 'content-encoding': 'gzip' });
  expect(gzip.status).toBe(415);
  expect(gzip.body).toMatchObject({
    kind: 'Status',
    code: 415,
    message: expect.stringContaining('Content-Encoding'),
  });

  const forged = await post(orgUrl(), body, {
    ...headers,
    'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
  });
  expect(forged.body).toMatchObject({ kind: 'Status', code: 401, reason: 'Unauthorized' });

  const deep = `{"a":${'['.repeat(500)}${']'.repeat(500)}}`;
  const tooDeep = await post(orgUrl(), deep, await githubHeaders('push', deep, SECRET));
  expect(tooDeep.body).toMatchObject({
    code: 400,
    message: expect.stringContaining('deeper than the limit'),
  });

  const get = await post(orgUrl(), undefined, {}, 'GET');
  expect(get.body).toMatchObject({ kind: 'Status', code: 405, reason: 'MethodNotAllowed' });

  const badParam = await post(`${s.http.url}${BC_PATH(ns, 'app')}/webhooks/x%E0%A4%A/github`, '{}', {
    'content-type': 'application/json',
  });
  expect(badParam.body).toMatchObject({
    kind: 'Status',
    code: 400,
    message: expect.stringContaining('"secret"'),
  });

  const wrongSecret = await post(`${s.http.url}${BC_PATH(ns, 'app')}/webhooks/wrong/github`, body, headers);
  expect(wrongSecret.status).toBeGreaterThanOrEqual(400);
  expect(wrongSecret.body).toMatchObject({ kind: 'Status' });

  // Nothing of the above built anything.
  const list = await s.apiJson<{ items: Resource[] }>('GET', BUILD_PATH(ns));
  expect(list.items).toHaveLength(20);
});

test('other paths still reach express, and webhook requests are counted by route', async () => {
  const other = await post(`${s.http.url}/webhooks/gitea`, '{}', { 'content-type': 'application/json' });
  expect(other.body).toMatchObject({ kind: 'Status', code: 404 });
  expect((await fetch(`${s.http.url}/healthz`)).status).toBe(200);
  const metrics = await (await fetch(`${s.http.url}/metrics`)).text();
  expect(metrics).toMatch(
    /slipway_http_requests_total\{method="POST",route="\/webhooks\/github",code="202"\} [1-9]/,
  );
  expect(metrics).toMatch(
    /slipway_http_requests_total\{method="POST",route="\/webhooks\/github",code="413"\} [1-9]/,
  );
});
