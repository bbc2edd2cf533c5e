/**
 * Request bodies and query strings that used to crash the server or answer 500, each sent
 * to a real `slipway server` process: every one must now get a 4xx Status that names the
 * limit or the field, and the process must still answer /healthz afterwards.
 */
import { randomUUID } from 'node:crypto';
import { startRedis, type RedisHandle } from '../support/stack.js';
import { startServerProcess, statusOf, type ServerProcess } from '../fuzz/server-process.js';

let redis: RedisHandle;
let server: ServerProcess;
const ns = `sec-${randomUUID().slice(0, 8)}`;
const BCS = `/apis/build.openshift.io/v1/namespaces/${ns}/buildconfigs`;

const bc = {
  apiVersion: 'build.openshift.io/v1',
  kind: 'BuildConfig',
  metadata: { name: 'web' },
  spec: {
    source: { git: { uri: 'https://example.invalid/repo.git' } },
    strategy: { type: 'Docker', dockerStrategy: {} },
    output: { to: { kind: 'ImageStreamTag', name: 'web:latest' } },
  },
};

beforeAll(async () => {
  redis = await startRedis();
  server = await startServerProcess({ redisUrl: redis.url });
  const res = await server.fetch(BCS, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(bc),
  });
  expect(res.status).toBe(201);
}, 60000);

afterAll(async () => {
  await server?.stop();
  await redis?.stop();
});

/** The server process is alive and answers /healthz promptly. */
async function expectHealthy(): Promise<void> {
  const started = Date.now();
  const res = await server.fetch('/healthz', { timeoutMs: 5000 });
  expect(res.status).toBe(200);
  expect(Date.now() - started).toBeLessThan(2000);
  expect(server.alive()).toBe(true);
}

function yaml(body: string): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/yaml' }, body };
}

test('a YAML body with more than 100 aliases is a 400 naming the alias limit; the server lives', async () => {
  const bomb = `a: &a x\nb: [${Array(101).fill('*a').join(', ')}]\n`;
  const res = await server.fetch(BCS, yaml(bomb));
  expect(res.status).toBe(400);
  const status = await statusOf(res);
  expect(status).toMatchObject({ kind: 'Status', code: 400, reason: 'BadRequest' });
  expect(status.message).toMatch(/more aliases than the limit of 100/);
  // A billion-laughs document is stopped the same way, before it expands.
  let laughs = 'l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
  for (let i = 1; i < 10; i++)
    laughs += `l${i}: &l${i} [${Array(9)
      .fill(`*l${i - 1}`)
      .join(', ')}]\n`;
  const res2 = await server.fetch(BCS, yaml(laughs));
  expect(res2.status).toBe(400);
  expect((await statusOf(res2)).message).toMatch(/aliases/);
  await expectHealthy();
});

test('a 60 MB YAML body is a 413 naming the 5 MiB limit, without the server growing or stalling', async () => {
  const rssBefore = server.rssBytes();
  const line = 'k: 0123456789012345678901234567890123456789\n';
  const big = `items:\n${'- '.concat(line).repeat(Math.ceil((60 * 1024 * 1024) / (line.length + 2)))}`;
  const res = await server.fetch(BCS, { ...yaml(big), timeoutMs: 60000 });
  expect(res.status).toBe(413);
  const status = await statusOf(res);
  expect(status).toMatchObject({ kind: 'Status', code: 413, reason: 'RequestEntityTooLarge' });
  expect(status.message).toContain('5242880 bytes');
  await expectHealthy();
  // The body is counted as it arrives and dropped past the limit: nowhere near 60 MB kept.
  expect(server.rssBytes() - rssBefore).toBeLessThan(100 * 1024 * 1024);
  // YAML reads about a hundred times slower than JSON: past 256 KiB it is refused unread.
  const midYaml = await server.fetch(BCS, yaml(`items:\n${'- '.concat(line).repeat(8000)}`));
  expect(midYaml.status).toBe(413);
  expect((await statusOf(midYaml)).message).toMatch(/262144 bytes .*for YAML; send JSON/);
  // JSON has the 5 MiB limit.
  const json = await server.fetch(BCS, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: `{"a":"${'x'.repeat(6 * 1024 * 1024)}"}`,
  });
  expect(json.status).toBe(413);
}, 90000);

test('JSON nested 5,000 deep is a 400 naming the depth limit on create, replace, patch and instantiate', async () => {
  const deep = `{"metadata":{"name":"web"},"spec":${'['.repeat(5000)}1${']'.repeat(5000)}}`;
  const calls: [string, string, string][] = [
    ['POST', BCS, 'application/json'],
    ['PUT', `${BCS}/web`, 'application/json'],
    ['PATCH', `${BCS}/web`, 'application/merge-patch+json'],
    ['POST', `${BCS}/web/instantiate`, 'application/json'],
  ];
  for (const [method, path, type] of calls) {
    const res = await server.fetch(path, { method, headers: { 'content-type': type }, body: deep });
    expect([method, res.status]).toEqual([method, 400]);
    expect((await statusOf(res)).message).toMatch(/nested deeper than the limit of 100 levels/);
  }
  // YAML nesting too (flow style).
  const res = await server.fetch(BCS, yaml(`spec: ${'['.repeat(5000)}1${']'.repeat(5000)}\n`));
  expect(res.status).toBe(400);
  expect((await statusOf(res)).message).toMatch(/limit of 100 levels/);
  await expectHealthy();
});

test('a YAML anchor used inside itself is a 400', async () => {
  for (const body of ['metadata: {name: loop}\nspec: &s {loop: *s}\n', 'a: &a [*a]\n']) {
    const res = await server.fetch(BCS, yaml(body));
    expect(res.status).toBe(400);
    const status = await statusOf(res);
    expect(status.reason).toBe('BadRequest');
    expect(status.message).toMatch(/refers to itself/);
  }
  await expectHealthy();
});

test('kind, name and namespace that are objects with a toString key are 400s quoting them, not 500s (found by the fuzz test)', async () => {
  const bodies = [
    { kind: { toString: { spec: 1 } }, metadata: { name: 'x' } },
    { kind: 'BuildConfig', metadata: { name: 'x', namespace: { toString: 1 } } },
  ];
  for (const body of bodies) {
    const res = await server.fetch(BCS, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(400);
    expect((await statusOf(res)).message).toContain('toString');
  }
  const replace = await server.fetch(`${BCS}/web`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...bc, metadata: { name: { toString: 1 } } }),
  });
  expect(replace.status).toBe(400);
  await expectHealthy();
});

test('a repeated query parameter is a 400 naming the parameter', async () => {
  const res = await server.fetch(`${BCS}?labelSelector=a%3Db&labelSelector=c%3Dd`);
  expect(res.status).toBe(400);
  const status = await statusOf(res);
  expect(status.message).toContain('"labelSelector"');
  expect(status.message).toMatch(/more than once/);
  // Given once, it still works.
  const ok = await server.fetch(`${BCS}?labelSelector=a%3Db`);
  expect(ok.status).toBe(200);
  await expectHealthy();
});

test('an instantiate body with env as an object is a 400 naming env; nothing is built', async () => {
  const instantiate = (body: unknown): Promise<Response> =>
    server.fetch(`${BCS}/web/instantiate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const res = await instantiate({ env: {} });
  expect(res.status).toBe(400);
  const status = await statusOf(res);
  expect(status.message).toMatch(/env/);
  expect((status as { details?: { causes?: { field: string }[] } }).details?.causes?.[0]?.field).toBe('env');
  // A wrong shape is a 400, a well-formed value that breaks a rule a 422; both name the field.
  for (const [body, field, code] of [
    [{ env: [{ value: 'x' }] }, 'env[0].name', 400],
    [{ env: [{ name: 'A=1\nRUN id' }] }, 'env[0].name', 422],
    [{ dockerStrategyOptions: { buildArgs: 'x' } }, 'dockerStrategyOptions.buildArgs', 400],
    [{ revision: { git: { commit: 5 } } }, 'revision.git.commit', 400],
    [{ kind: 'Build' }, 'kind', 400],
  ] as const) {
    const r = await instantiate(body);
    expect([field, r.status]).toEqual([field, code]);
    expect((await statusOf(r)).message).toContain(field);
  }
  const builds = await server.fetch(`/apis/build.openshift.io/v1/namespaces/${ns}/builds`);
  expect(((await builds.json()) as { items: unknown[] }).items).toEqual([]);
  // A valid request still builds.
  const good = await instantiate({ kind: 'BuildRequest', env: [{ name: 'A', value: '1' }] });
  expect(good.status).toBe(201);
  await expectHealthy();
});

test('webhook payloads get the same protection: a generic YAML alias bomb and deep JSON are 400s', async () => {
  // The BuildConfig has no webhook trigger: the secret check answers before the body is read.
  const withHook = {
    ...bc,
    metadata: { name: 'hooked' },
    spec: { ...bc.spec, triggers: [{ type: 'Generic', generic: { secret: 's3cret' } }] },
  };
  const created = await server.fetch(BCS, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(withHook),
  });
  expect(created.status).toBe(201);
  const hook = `${BCS}/hooked/webhooks/s3cret/generic`;
  const bomb = await fetch(`${server.url}${hook}`, {
    method: 'POST',
    headers: { 'content-type': 'application/yaml' },
    body: `a: &a x\nb: [${Array(150).fill('*a').join(', ')}]\n`,
  });
  expect(bomb.status).toBe(400);
  expect((await statusOf(bomb)).message).toMatch(/aliases/);
  const selfRef = await fetch(`${server.url}${hook}`, {
    method: 'POST',
    headers: { 'content-type': 'application/yaml' },
    body: 'git: &g {refs: [*g]}\n',
  });
  expect(selfRef.status).toBe(400);
  const deep = await fetch(`${server.url}${hook}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: `{"git":${'['.repeat(10000)}${']'.repeat(10000)}}`,
  });
  expect(deep.status).toBe(400);
  expect((await statusOf(deep)).message).toMatch(/limit of 100 levels/);
  await expectHealthy();
});
