/**
 * Fuzzing every reader of outside input: at least 10,000 generated and mutated inputs.
 * Most go straight to the runtime-neutral cores (the webhook parsers for GitHub, GitLab,
 * Bitbucket, generic and registry notifications, the API's body reader, the CLI's
 * `apply -f` reader); a share goes over HTTP to a real `slipway server` process on its
 * own Redis. Asserted: no 5xx, no exception out of a core, no crash, no hang (every call
 * and request has a deadline), memory back near where it started.
 *
 * The inputs come from a seeded PRNG; the seed is printed. Reproduce a failure with
 * SLIPWAY_FUZZ_SEED=<seed>; SLIPWAY_FUZZ_SCALE=<n> multiplies the counts for a longer run.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { stringify as yamlStringify } from 'yaml';
import { parseBody } from '../../src/api/body.js';
import { ApiError } from '../../src/cli/client.js';
import { parseManifests } from '../../src/cli/manifests.js';
import { InputError } from '../../src/core/errors.js';
import type { Resource } from '../../src/core/resource.js';
import {
  createGitHubOrgReceiver,
  handleBuildConfigWebhook,
  handleRegistryNotification,
  type WebhookRequest,
} from '../../src/webhooks/index.js';
import { startRedis, type RedisHandle } from '../support/stack.js';
import {
  bodyFor,
  buildConfigSeed,
  buildRequestSeed,
  mutateText,
  randomString,
  randomValue,
  RESOURCE_SEEDS,
  Rng,
  SECRET,
  WEBHOOK_SEEDS,
  yamlAttack,
  type Format,
} from './generate.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

const SEED = Number(process.env.SLIPWAY_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const SCALE = Number(process.env.SLIPWAY_FUZZ_SCALE ?? 1);
const CORE_CASES = Math.round(5000 * SCALE);
const READER_CASES = Math.round(2000 * SCALE);
const HTTP_CASES = Math.round(2000 * SCALE);
/**
 * A core call slower than this counts as a hang (they are synchronous parsers at heart).
 * Generous: the machine running the suite may be busy with other tests.
 */
const CORE_DEADLINE_MS = 5000;
const HTTP_DEADLINE_MS = 20000;

let inputs = 0;

/** One PRNG per case, derived from the seed, so a case can be replayed alone. */
const rngFor = (stream: number, i: number): Rng =>
  new Rng((SEED ^ Math.imul(stream * 100003 + i, 2654435761)) >>> 0);

function fail(what: string, i: number, detail: string): never {
  throw new Error(`${what} case ${i} (SLIPWAY_FUZZ_SEED=${SEED}): ${detail}`);
}

/** global.gc without --expose-gc on the command line (npm test sets NODE_OPTIONS itself). */
function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

beforeAll(() => {
  console.log(`fuzz seed ${SEED} (rerun with SLIPWAY_FUZZ_SEED=${SEED})`);
});

afterAll(() => {
  console.log(`fuzz: ${inputs} inputs, seed ${SEED}`);
});

// ---------- the webhook cores, called directly ----------

const NS = 'fuzz';
const BC_NAME = 'fz';
const storedBuildConfig = (): Resource =>
  ({
    ...buildConfigSeed(BC_NAME),
    metadata: { name: BC_NAME, namespace: NS, resourceVersion: '3' },
  }) as unknown as Resource;

function sign(secret: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

type HookType = 'github' | 'gitlab' | 'bitbucket' | 'generic' | 'org' | 'registry';

interface HookCase {
  type: HookType;
  body: Buffer;
  headers: Record<string, string>;
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/yaml',
  'text/plain',
  '',
  'application/x-www-form-urlencoded',
  'application/vnd.docker.distribution.events.v1+json',
  '/',
  'application/json;;;',
  'a'.repeat(300),
];

function hookCase(rng: Rng, orgSecret: string, registryToken: string): HookCase {
  const type = rng.pick<HookType>(['github', 'gitlab', 'bitbucket', 'generic', 'org', 'registry']);
  const seed = WEBHOOK_SEEDS[type === 'org' ? 'github' : type]();
  const format: Format = type === 'generic' && rng.chance(0.4) ? 'yaml' : 'json';
  const text = rng.chance(0.03) ? '' : bodyFor(rng, seed, format);
  const body = Buffer.from(text);
  const headers: Record<string, string> = {
    'content-type':
      format === 'yaml'
        ? 'application/yaml'
        : type === 'registry'
          ? 'application/vnd.docker.distribution.events.v1+json'
          : 'application/json',
  };
  if (rng.chance(0.1)) headers['content-type'] = rng.pick(CONTENT_TYPES);
  if (type === 'github' || type === 'org') {
    headers['x-github-event'] = rng.chance(0.85)
      ? 'push'
      : rng.pick(['ping', 'issues', '', randomString(rng)]);
    headers['x-github-delivery'] = randomUUID();
    if (type === 'org' || rng.chance(0.3))
      headers['x-hub-signature-256'] = rng.chance(0.9)
        ? sign(type === 'org' ? orgSecret : SECRET, body)
        : randomString(rng);
  }
  if (type === 'gitlab') {
    headers['x-gitlab-token'] = rng.chance(0.95) ? SECRET : randomString(rng);
    headers['x-gitlab-event'] = rng.chance(0.85)
      ? rng.pick(['Push Hook', 'Tag Push Hook'])
      : randomString(rng);
  }
  if (type === 'bitbucket') {
    headers['x-event-key'] = rng.chance(0.85)
      ? rng.pick(['repo:push', 'repo:refs_changed'])
      : randomString(rng);
    headers['x-request-uuid'] = randomUUID();
  }
  if (type === 'generic' && rng.chance(0.5)) headers['idempotency-key'] = randomString(rng);
  if (type === 'registry')
    headers.authorization = rng.chance(0.95) ? `Bearer ${registryToken}` : randomString(rng);
  return { type, body, headers };
}

/** HTTP carries header values as printable Latin-1; the cores see anything. */
function httpSafe(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, v.replace(/[^\x20-\x7e]/g, '?').trim()]),
  );
}

function webhookRequest(c: HookCase): WebhookRequest {
  const lower = Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { method: 'POST', getHeader: (n) => lower[n.toLowerCase()], rawBody: c.body };
}

async function withDeadline<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

test(`the webhook cores: ${CORE_CASES} inputs, each a reply below 500 or an event, never a throw`, async () => {
  const orgSecret = 'org-secret';
  const registryToken = 'registry-token';
  const org = createGitHubOrgReceiver({ secret: orgSecret });
  const outcomes: Record<string, number> = {};
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  let slowest = 0;
  for (let i = 0; i < CORE_CASES; i++) {
    const rng = rngFor(1, i);
    const c = hookCase(rng, orgSecret, registryToken);
    const request = webhookRequest(c);
    const started = Date.now();
    let result: { action: string; reply?: { status: number }; request?: unknown; events?: unknown };
    try {
      if (c.type === 'org') result = await withDeadline('org', org.receive(request), CORE_DEADLINE_MS);
      else if (c.type === 'registry') result = handleRegistryNotification({ request, token: registryToken });
      else
        result = await withDeadline(
          c.type,
          handleBuildConfigWebhook({
            namespace: NS,
            name: BC_NAME,
            secret: SECRET,
            type: c.type,
            request,
            getBuildConfig: async (ns, name) =>
              ns === NS && name === BC_NAME ? storedBuildConfig() : undefined,
            getSecret: async () => undefined,
          }),
          CORE_DEADLINE_MS,
        );
    } catch (err) {
      fail(
        `${c.type} webhook`,
        i,
        `threw ${(err as Error).stack ?? String(err)}\nbody: ${c.body.toString('utf8').slice(0, 300)}`,
      );
    }
    const ms = Date.now() - started;
    slowest = Math.max(slowest, ms);
    if (ms > CORE_DEADLINE_MS) fail(`${c.type} webhook`, i, `took ${ms} ms`);
    if (result.action === 'reply') {
      const status = result.reply!.status;
      if (status >= 500) fail(`${c.type} webhook`, i, `answered ${status}`);
      outcomes[`${c.type} ${status}`] = (outcomes[`${c.type} ${status}`] ?? 0) + 1;
    } else {
      // What a core hands on is stored and queued: it must serialize.
      JSON.stringify(result);
      outcomes[`${c.type} ${result.action}`] = (outcomes[`${c.type} ${result.action}`] ?? 0) + 1;
    }
    inputs++;
  }
  gc();
  const grown = process.memoryUsage().heapUsed - heapBefore;
  console.log(
    `webhook cores: slowest ${slowest} ms, heap ${Math.round(grown / 1e6)} MB after GC; ${JSON.stringify(outcomes)}`,
  );
  expect(grown).toBeLessThan(100 * 1024 * 1024);
  // The generator must reach past authentication into the parsers, or this test proves little.
  for (const t of ['github', 'gitlab', 'bitbucket', 'generic', 'org', 'registry']) {
    const parsed = Object.entries(outcomes)
      .filter(([k]) => k.startsWith(`${t} `) && !k.endsWith(' 401'))
      .reduce((n, [, v]) => n + v, 0);
    expect([t, parsed > CORE_CASES / 20]).toEqual([t, true]);
  }
  for (const t of ['github', 'gitlab', 'bitbucket', 'generic', 'org', 'registry'])
    expect([t, (outcomes[`${t} 400`] ?? 0) > 0]).toEqual([t, true]);
}, 120000);

// ---------- the API body reader and the CLI's file reader ----------

test(`the API body reader and the CLI's apply -f reader: ${READER_CASES} inputs each, a value or a 400, never anything else`, () => {
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  let refused = 0;
  let slowest = 0;
  for (let i = 0; i < READER_CASES; i++) {
    const rng = rngFor(2, i);
    const seedInfo = rng.pick(RESOURCE_SEEDS);
    const format: Format = rng.chance(0.5) ? 'yaml' : 'json';
    let text = bodyFor(rng, seedInfo.body('x'), format);
    if (rng.chance(0.1)) text = yamlAttack(rng);
    const started = Date.now();
    try {
      const value = parseBody(Buffer.from(text), format === 'json' ? 'application/json' : 'application/yaml');
      // Whatever the reader lets through must survive the walks the API makes on it.
      JSON.stringify(value);
    } catch (err) {
      if (!(err instanceof InputError) || err.code !== 400)
        fail(
          'API body reader',
          i,
          `threw ${(err as Error).stack ?? String(err)}\ninput: ${text.slice(0, 300)}`,
        );
      refused++;
    }
    // A manifest file: many documents, `List`s, the same damage.
    let file = text;
    if (rng.chance(0.3))
      file = `${text}\n---\n${yamlStringify({ kind: 'List', items: [randomValue(rng), seedInfo.body('y')] })}`;
    if (rng.chance(0.2)) file = mutateText(rng, file);
    try {
      const resources = parseManifests(file, 'fuzz.yaml');
      JSON.stringify(resources);
    } catch (err) {
      if (!(err instanceof ApiError))
        fail(
          'apply -f reader',
          i,
          `threw ${(err as Error).stack ?? String(err)}\ninput: ${file.slice(0, 300)}`,
        );
      expect((err as ApiError).message).toMatch(/^error: fuzz\.yaml: /);
    }
    const ms = Date.now() - started;
    slowest = Math.max(slowest, ms);
    if (ms > CORE_DEADLINE_MS) fail('readers', i, `took ${ms} ms`);
    inputs += 2;
  }
  gc();
  const grown = process.memoryUsage().heapUsed - heapBefore;
  console.log(
    `readers: ${refused} of ${READER_CASES} API bodies refused, slowest ${slowest} ms, heap ${Math.round(grown / 1e6)} MB after GC`,
  );
  expect(refused).toBeGreaterThan(READER_CASES / 10);
  expect(refused).toBeLessThan(READER_CASES);
  expect(grown).toBeLessThan(100 * 1024 * 1024);
}, 120000);

// ---------- over HTTP, to a real server process ----------

describe('over HTTP', () => {
  let redis: RedisHandle;
  let server: ServerProcess;

  beforeAll(async () => {
    redis = await startRedis();
    server = await startServerProcess({ redisUrl: redis.url });
    const res = await server.fetch(`/apis/build.openshift.io/v1/namespaces/${NS}/buildconfigs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(buildConfigSeed(BC_NAME)),
    });
    expect(res.status).toBe(201);
  }, 60000);

  afterAll(async () => {
    await server?.stop();
    await redis?.stop();
  });

  interface HttpCase {
    label: string;
    path: string;
    method: string;
    headers: Record<string, string>;
    body?: string;
    auth: boolean;
  }

  const NAMESPACES = [NS, NS, NS, 'other', 'UPPER', 'a.b', '-x', '%2e%2e', 'x'.repeat(300), '%zz', '%00'];

  /** encodeURIComponent, with lone surrogates (which it refuses) made U+FFFD first. */
  const encode = (v: string): string =>
    encodeURIComponent(
      v.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'),
    );

  function queryString(rng: Rng): string {
    const params: string[] = [];
    const n = rng.int(4);
    for (let k = 0; k < n; k++) {
      const key = rng.pick([
        'labelSelector',
        'labelSelector',
        'follow',
        'watch',
        'asFile',
        'version',
        '__proto__',
        randomString(rng),
      ]);
      const value = rng.chance(0.7)
        ? rng.pick(['app=fz', 'app', 'a=b,c=d', '!!', '=', 'true', '%zz', ''])
        : randomString(rng);
      params.push(`${encode(key)}=${rng.chance(0.9) ? encode(value) : value.replace(/[^\x21-\x7e]/g, '')}`);
    }
    if (rng.chance(0.1)) params.push('a[b]=c', 'a[b]=d');
    return params.length ? `?${params.join('&')}` : '';
  }

  function httpCase(rng: Rng, s: ServerProcess): HttpCase {
    const format: Format = rng.chance(0.5) ? 'json' : 'yaml';
    const contentType = format === 'json' ? 'application/json' : 'application/yaml';
    const ns = rng.pick(NAMESPACES);
    const r = rng.next();
    if (r < 0.2) {
      const seed = rng.pick(RESOURCE_SEEDS);
      const base = seed.group ? `/apis/${seed.group}/v1` : '/api/v1';
      return {
        label: `create ${seed.plural}`,
        path: `${base}/namespaces/${ns}/${seed.plural}${rng.chance(0.1) ? queryString(rng) : ''}`,
        method: 'POST',
        headers: { 'content-type': rng.chance(0.05) ? rng.pick(CONTENT_TYPES) : contentType },
        body: bodyFor(rng, seed.body(`f${rng.int(1000)}`), format),
        auth: true,
      };
    }
    if (r < 0.32) {
      return {
        label: 'replace',
        path: `/apis/build.openshift.io/v1/namespaces/${NS}/buildconfigs/${rng.chance(0.8) ? BC_NAME : 'missing'}`,
        method: 'PUT',
        headers: { 'content-type': contentType },
        body: bodyFor(rng, buildConfigSeed(BC_NAME), format),
        auth: true,
      };
    }
    if (r < 0.42) {
      return {
        label: 'patch',
        path: `/apis/build.openshift.io/v1/namespaces/${NS}/buildconfigs/${BC_NAME}`,
        method: 'PATCH',
        headers: {
          'content-type': rng.chance(0.9) ? 'application/merge-patch+json' : rng.pick(CONTENT_TYPES),
        },
        body: bodyFor(rng, { spec: { runPolicy: 'Parallel', source: { git: { ref: 'main' } } } }, 'json'),
        auth: true,
      };
    }
    if (r < 0.55) {
      return {
        label: 'instantiate',
        path: `/apis/build.openshift.io/v1/namespaces/${NS}/buildconfigs/${BC_NAME}/instantiate`,
        method: 'POST',
        headers: { 'content-type': contentType },
        body: bodyFor(rng, buildRequestSeed(BC_NAME), format),
        auth: true,
      };
    }
    if (r < 0.62) {
      return {
        label: 'deployment verbs',
        path: `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs/${rng.pick(['missing', 'f1'])}/${rng.pick(['instantiate', 'rollback'])}`,
        method: 'POST',
        headers: { 'content-type': contentType },
        body: bodyFor(
          rng,
          {
            kind: 'DeploymentRequest',
            name: 'f1',
            latest: true,
            force: false,
            excludeTriggers: ['ImageChange'],
            spec: { revision: 1 },
          },
          format,
        ),
        auth: true,
      };
    }
    if (r < 0.75) {
      const seed = rng.pick(RESOURCE_SEEDS);
      const base = seed.group ? `/apis/${seed.group}/v1` : '/api/v1';
      return {
        label: 'list',
        path: `${base}${rng.chance(0.8) ? `/namespaces/${ns}` : ''}/${seed.plural}${rng.chance(0.2) ? `/${BC_NAME}` : ''}${queryString(rng)}`,
        method: 'GET',
        headers: {},
        auth: true,
      };
    }
    if (r < 0.97) {
      const c = hookCase(rng, s.githubSecret, s.registryToken);
      const path =
        c.type === 'org'
          ? '/webhooks/github'
          : c.type === 'registry'
            ? '/webhooks/registry'
            : `/apis/build.openshift.io/v1/namespaces/${NS}/buildconfigs/${BC_NAME}/webhooks/${SECRET}/${c.type}`;
      return {
        label: `webhook ${c.type}`,
        path,
        method: 'POST',
        headers: httpSafe(c.headers),
        body: c.body.toString('utf8'),
        auth: false,
      };
    }
    return {
      label: 'odd request',
      path: rng.pick([
        '/apis/',
        '/api/v1/namespaces/x/../../',
        '/apis/x/y/namespaces/z/w',
        `/api/v1/namespaces/${ns}/secrets/%ff`,
        '/metrics',
        '/readyz',
      ]),
      method: rng.pick(['GET', 'POST', 'DELETE', 'OPTIONS', 'PATCH', 'PUT']),
      headers: httpSafe({ 'content-type': rng.pick(CONTENT_TYPES) }),
      body: randomString(rng),
      auth: rng.chance(0.5),
    };
  }

  test(`${HTTP_CASES} requests to a real server: no 5xx, every 4xx a Status, no hang, no crash, memory back`, async () => {
    // Warm up first: the memory baseline is the server after it has served a little.
    for (let i = 0; i < 50; i++)
      await (await server.fetch(`/apis/build.openshift.io/v1/namespaces/${NS}/buildconfigs`)).text();
    const rssStart = server.rssBytes();
    let rssPeak = rssStart;
    let slowest = 0;
    const codes: Record<string, number> = {};
    const failures: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < HTTP_CASES && failures.length === 0) {
        const i = next++;
        const rng = rngFor(3, i);
        const c = httpCase(rng, server);
        const started = Date.now();
        let status: number;
        let text: string;
        try {
          const res = await fetch(`${server.url}${c.path}`, {
            method: c.method,
            headers: { ...(c.auth ? { authorization: `Bearer ${server.token}` } : {}), ...c.headers },
            ...(c.body !== undefined && c.method !== 'GET' ? { body: c.body } : {}),
            signal: AbortSignal.timeout(HTTP_DEADLINE_MS),
          });
          status = res.status;
          text = await res.text();
        } catch (err) {
          failures.push(
            `case ${i} ${c.label} ${c.method} ${c.path.slice(0, 120)}: ${String(err)} (server ${server.alive() ? 'alive' : 'DEAD'}): ${server.output().slice(-2000)}`,
          );
          return;
        }
        const ms = Date.now() - started;
        slowest = Math.max(slowest, ms);
        codes[`${c.label} ${status}`] = (codes[`${c.label} ${status}`] ?? 0) + 1;
        if (status >= 500)
          failures.push(
            `case ${i} ${c.label} ${c.method} ${c.path.slice(0, 120)} → ${status}: ${text.slice(0, 500)}\nbody: ${(c.body ?? '').slice(0, 300)}`,
          );
        else if (status >= 400 && c.path !== '/metrics') {
          let kind: unknown;
          try {
            kind = (JSON.parse(text) as { kind?: unknown }).kind;
          } catch {
            kind = undefined;
          }
          if (kind !== 'Status')
            failures.push(`case ${i} ${c.label} → ${status} without a Status body: ${text.slice(0, 300)}`);
        }
        if (i % 100 === 0) rssPeak = Math.max(rssPeak, server.rssBytes());
        inputs++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    if (failures.length > 0) throw new Error(`SLIPWAY_FUZZ_SEED=${SEED}\n${failures.join('\n')}`);
    expect(server.alive()).toBe(true);
    const health = await server.fetch('/healthz', { timeoutMs: 5000 });
    expect(health.status).toBe(200);
    await new Promise((r) => setTimeout(r, 2000));
    const rssEnd = server.rssBytes();
    console.log(
      `HTTP: ${HTTP_CASES} requests, slowest ${slowest} ms, server RSS ${Math.round(rssStart / 1e6)} → peak ${Math.round(rssPeak / 1e6)} → end ${Math.round(rssEnd / 1e6)} MB; ${JSON.stringify(codes)}`,
    );
    expect(rssEnd - rssStart).toBeLessThan(150 * 1024 * 1024);
    // Every kind of request reached past the front door at least sometimes.
    for (const label of ['create', 'replace', 'patch', 'instantiate', 'list', 'webhook']) {
      const ok = Object.entries(codes).some(([k]) => k.startsWith(label) && / 2\d\d$/.test(k));
      expect([label, ok]).toEqual([label, true]);
    }
  }, 180000);
});

test('at least 10,000 inputs in all', () => {
  if (SCALE >= 1) expect(inputs).toBeGreaterThanOrEqual(10000);
});
