/**
 * OpenShift's per-BuildConfig webhook URLs against a running Slipway, a real git daemon
 * and a build worker: every status code, signatures, redelivery, glob refs, the paths
 * filter, the GitLab, Bitbucket and generic fixtures, and the 25 MB cap.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { rejectedSecretMessage } from '../../src/webhooks/buildconfig-webhook.js';
import { BASE_IMAGE, startGitDaemon, type GitServer } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { fixture, githubHeaders, post, pushPayload, sign } from '../support/webhooks.js';

let s: TestSlipway;
let git: GitServer;
const ns = `wh-${randomUUID().slice(0, 8)}`;
const SECRET = `s3cret-${randomUUID()}`;

beforeAll(async () => {
  s = await startSlipway({
    workers: 1,
    config: { githubSecret: `org-${randomUUID()}`, registryNotifyToken: randomUUID() },
  });
  git = await startGitDaemon();
});
afterAll(async () => {
  await s?.stop();
  await git?.stop();
});

function hookUrl(bc: string, type: string, secret = SECRET, namespace = ns): string {
  return `${s.http.url}${BC_PATH(namespace, bc)}/webhooks/${encodeURIComponent(secret)}/${type}`;
}

function buildConfig(name: string, spec: Record<string, unknown>): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { git: { uri: git.url(name), ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: {} },
      ...spec,
    },
  };
}

async function builds(bc: string): Promise<Resource[]> {
  const list = await s.apiJson<{ items: Resource[] }>(
    'GET',
    `${BUILD_PATH(ns)}?labelSelector=openshift.io/build-config.name%3D${bc}`,
  );
  return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name, 'en', { numeric: true }));
}

function status(code: number, message: string): Record<string, unknown> {
  const ok = code < 300;
  return expect.objectContaining({
    kind: 'Status',
    code,
    status: ok ? 'Success' : 'Failure',
    message,
  }) as Record<string, unknown>;
}

async function metric(source: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${s.http.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`slipway_webhook_deliveries_total{source="${source}",outcome="${outcome}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('GitHub hook on a BuildConfig', () => {
  const name = 'gh';
  let commit: string;

  beforeAll(async () => {
    commit = git.commit(name, { Dockerfile: `FROM ${BASE_IMAGE}\nRUN echo built-by-webhook\n` });
    await s.apiJson(
      'POST',
      BC_PATH(ns),
      buildConfig(name, { triggers: [{ type: 'GitHub', github: { secret: SECRET } }] }),
    );
  });

  it('answers 401 with one fixed message for an unknown BuildConfig, a wrong secret and a missing trigger', async () => {
    const body = JSON.stringify(
      pushPayload({ cloneUrl: git.url(name), ref: 'refs/heads/main', after: commit }),
    );
    const headers = await githubHeaders('push', body);
    const unknown = await post(hookUrl('no-such-bc', 'github'), body, headers);
    const wrongSecret = await post(hookUrl(name, 'github', 'not-the-secret'), body, headers);
    const noTrigger = await post(hookUrl(name, 'gitlab'), body, {
      ...headers,
      'x-gitlab-event': 'Push Hook',
    });
    const otherNamespace = await post(hookUrl(name, 'github', SECRET, `${ns}-other`), body, headers);
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual({
      ...wrongSecret.body,
      message: rejectedSecretMessage('github', 'no-such-bc'),
    });
    expect(wrongSecret).toMatchObject({
      status: 401,
      body: status(401, rejectedSecretMessage('github', name)),
    });
    expect(noTrigger).toMatchObject({
      status: 401,
      body: status(401, rejectedSecretMessage('gitlab', name)),
    });
    expect(otherNamespace).toMatchObject({ status: 401, body: wrongSecret.body });
    expect(await builds(name)).toEqual([]);
  });

  it('answers 405 to other methods and 404 to an unknown hook type', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await post(hookUrl(name, 'github'), undefined, {}, method);
      expect(res).toMatchObject({
        status: 405,
        body: status(405, `${method} is not allowed on a webhook; use POST`),
      });
    }
    const svn = await post(hookUrl(name, 'svn'), '{}', { 'content-type': 'application/json' });
    expect(svn.status).toBe(404);
    expect(svn.body.message).toContain('"svn" not found');
  });

  it('answers 400 to a bad content type, a missing event header and unparseable JSON', async () => {
    const body = JSON.stringify(
      pushPayload({ cloneUrl: git.url(name), ref: 'refs/heads/main', after: commit }),
    );
    const headers = await githubHeaders('push', body);
    const form = await post(hookUrl(name, 'github'), body, {
      ...headers,
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form).toMatchObject({ status: 400, body: { reason: 'BadRequest' } });
    expect(form.body.message).toContain('application/json');
    const { 'x-github-event': _event, ...noEvent } = headers;
    const missing = await post(hookUrl(name, 'github'), body, noEvent);
    expect(missing).toMatchObject({
      status: 400,
      body: status(400, 'missing X-GitHub-Event, X-Gogs-Event or X-Gitea-Event'),
    });
    const broken = await post(hookUrl(name, 'github'), '{"ref": ', await githubHeaders('push', '{"ref": '));
    expect(broken.status).toBe(400);
    expect(broken.body.message).toMatch(/^the payload is not valid JSON/);
    expect(await builds(name)).toEqual([]);
  });

  it('answers 200 without a build to a ping and to a push of another branch', async () => {
    const ping = await post(
      hookUrl(name, 'github'),
      '{"zen":"hi"}',
      await githubHeaders('ping', '{"zen":"hi"}'),
    );
    expect(ping).toMatchObject({ status: 200, body: status(200, 'ping received; a ping starts no build') });
    const body = JSON.stringify(
      pushPayload({ cloneUrl: git.url(name), ref: 'refs/heads/feature', after: commit }),
    );
    const other = await post(hookUrl(name, 'github'), body, await githubHeaders('push', body));
    expect(other.status).toBe(200);
    expect(other.body.message).toMatch(/^skipping build: .*feature/);
    expect(await builds(name)).toEqual([]);
  });

  it('answers 200 with the Build for a push of its branch, and the build runs that commit', async () => {
    const before = await metric('github', 'built');
    const body = JSON.stringify(
      pushPayload({ cloneUrl: git.url(name), ref: 'refs/heads/main', after: commit, message: 'ship it' }),
    );
    const res = await post(hookUrl(name, 'github'), body, await githubHeaders('push', body));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      kind: 'Build',
      metadata: { name: `${name}-1`, namespace: ns },
      status: { phase: 'New' },
    });
    expect(res.body.spec.revision.git).toMatchObject({ commit, message: 'ship it' });
    expect(res.body.spec.triggeredBy).toEqual([
      { message: 'GitHub WebHook', githubWebHook: { secret: '<secret>', revision: res.body.spec.revision } },
    ]);
    expect(await metric('github', 'built')).toBe(before + 1);
    const done = await s.waitForBuild(ns, `${name}-1`);
    expect((done.status as { phase: string }).phase).toBe('Complete');
    const log = await (await s.api('GET', `${BUILD_PATH(ns, `${name}-1`)}/log`)).text();
    expect(log).toContain('built-by-webhook');
    expect(log).toContain(commit);
  });

  it('starts one build for a redelivery with the same X-GitHub-Delivery', async () => {
    const body = JSON.stringify(
      pushPayload({ cloneUrl: git.url(name), ref: 'refs/heads/main', after: commit }),
    );
    const delivery = randomUUID();
    const first = await post(
      hookUrl(name, 'github'),
      body,
      await githubHeaders('push', body, undefined, delivery),
    );
    const again = await post(
      hookUrl(name, 'github'),
      body,
      await githubHeaders('push', body, undefined, delivery),
    );
    expect(first.status).toBe(200);
    expect(first.body.kind).toBe('Build');
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ kind: 'Status', message: expect.stringContaining('already handled') });
    const created = (await builds(name)).filter((b) => b.metadata.name === first.body.metadata.name);
    expect(created).toHaveLength(1);
    expect((await builds(name)).map((b) => b.metadata.name)).not.toContain(`${name}-3`);
  });
});

describe('signatures', () => {
  const name = 'signed';
  let commit: string;
  beforeAll(async () => {
    commit = git.commit(name, { Dockerfile: `FROM ${BASE_IMAGE}\n` });
    await s.apiJson(
      'POST',
      BC_PATH(ns),
      buildConfig(name, {
        triggers: [{ type: 'GitHub', github: { secret: SECRET, requireSignature: true } }],
      }),
    );
  });

  it('a bad X-Hub-Signature-256 is a 401; a missing one is a 401 when the trigger requires it; a good one builds', async () => {
    const body = JSON.stringify(
      pushPayload({ cloneUrl: git.url(name), ref: 'refs/heads/main', after: commit }),
    );
    const forged = await post(
      hookUrl(name, 'github'),
      body,
      await githubHeaders('push', body, 'another-secret'),
    );
    expect(forged.status).toBe(401);
    expect(forged.body.message).toContain("does not match the payload signed with this trigger's secret");
    const tampered = await post(
      hookUrl(name, 'github'),
      body.replace('main', 'mainx'),
      await githubHeaders('push', body, SECRET),
    );
    expect(tampered.status).toBe(401);
    const unsigned = await post(hookUrl(name, 'github'), body, await githubHeaders('push', body));
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.message).toContain('requires signed deliveries');
    expect(await builds(name)).toEqual([]);
    const good = await post(hookUrl(name, 'github'), body, await githubHeaders('push', body, SECRET));
    expect(good.status).toBe(200);
    expect(good.body.metadata.name).toBe(`${name}-1`);
  });
});

describe('ref globs and the paths filter', () => {
  it('refs: release/* builds release/1.2 but not release/1/2 nor main', async () => {
    const name = 'globs';
    const commit = git.commit(name, { Dockerfile: `FROM ${BASE_IMAGE}\n` });
    await s.apiJson(
      'POST',
      BC_PATH(ns),
      buildConfig(name, { triggers: [{ type: 'GitHub', github: { secret: SECRET, refs: ['release/*'] } }] }),
    );
    const push = async (ref: string) => {
      const body = JSON.stringify(pushPayload({ cloneUrl: git.url(name), ref, after: commit }));
      return post(hookUrl(name, 'github'), body, await githubHeaders('push', body));
    };
    const deep = await push('refs/heads/release/1/2');
    expect(deep.status).toBe(200);
    expect(deep.body.kind).toBe('Status');
    expect((await push('refs/heads/main')).body.kind).toBe('Status');
    const release = await push('refs/heads/release/1.2');
    expect(release.status).toBe(200);
    expect(release.body.kind).toBe('Build');
    expect((await builds(name)).map((b) => b.metadata.name)).toEqual([`${name}-1`]);
  });

  it('a push that touches nothing under contextDir is skipped with the reason; one that does builds', async () => {
    const name = 'paths';
    const commit = git.commit(name, { 'app/Dockerfile': `FROM ${BASE_IMAGE}\n`, 'docs/README.md': 'docs\n' });
    await s.apiJson(
      'POST',
      BC_PATH(ns),
      buildConfig(name, {
        source: { git: { uri: git.url(name), ref: 'main' }, contextDir: 'app' },
        triggers: [{ type: 'GitHub', github: { secret: SECRET } }],
      }),
    );
    const push = async (changed: string[]) => {
      const body = JSON.stringify(
        pushPayload({ cloneUrl: git.url(name), ref: 'refs/heads/main', after: commit, changed }),
      );
      return post(hookUrl(name, 'github'), body, await githubHeaders('push', body));
    };
    const docs = await push(['docs/README.md']);
    expect(docs.status).toBe(200);
    expect(docs.body.kind).toBe('Status');
    expect(docs.body.message).toMatch(/skipping build: .*app/);
    expect(await builds(name)).toEqual([]);
    const app = await push(['docs/README.md', 'app/Dockerfile']);
    expect(app.body.kind).toBe('Build');
  });
});

describe('GitLab, Bitbucket and generic hooks with the shared fixtures', () => {
  function forgeConfig(name: string, trigger: Record<string, unknown>): Resource {
    return buildConfig(name, { source: { git: { uri: git.url(name), ref: 'master' } }, triggers: [trigger] });
  }

  it('GitLab Push Hook: X-Gitlab-Token is checked and the head commit is built', async () => {
    await s.apiJson('POST', BC_PATH(ns), forgeConfig('gl', { type: 'GitLab', gitlab: { secret: SECRET } }));
    const body = fixture('gitlab-push-hook.json');
    const headers = { 'content-type': 'application/json', 'x-gitlab-event': 'Push Hook' };
    const wrong = await post(hookUrl('gl', 'gitlab'), body, { ...headers, 'x-gitlab-token': 'nope' });
    expect(wrong.status).toBe(401);
    const res = await post(hookUrl('gl', 'gitlab'), body, { ...headers, 'x-gitlab-token': SECRET });
    expect(res.status).toBe(200);
    expect(res.body.spec.revision.git.commit).toBe(JSON.parse(body).checkout_sha);
    expect(res.body.spec.triggeredBy[0]).toMatchObject({
      message: 'GitLab WebHook',
      gitlabWebHook: { secret: '<secret>' },
    });
    const missing = await post(hookUrl('gl', 'gitlab'), body, { 'content-type': 'application/json' });
    expect(missing).toMatchObject({ status: 400, body: status(400, 'missing X-Gitlab-Event') });
  });

  it('Bitbucket Server repo:refs_changed builds the changed ref; diagnostics:ping does not', async () => {
    await s.apiJson(
      'POST',
      BC_PATH(ns),
      forgeConfig('bb', { type: 'Bitbucket', bitbucket: { secret: SECRET } }),
    );
    const body = fixture('bitbucket-server-refs-changed.json');
    const ping = await post(hookUrl('bb', 'bitbucket'), '{}', {
      'content-type': 'application/json',
      'x-event-key': 'diagnostics:ping',
    });
    expect(ping).toMatchObject({ status: 200, body: { kind: 'Status' } });
    const res = await post(hookUrl('bb', 'bitbucket'), body, {
      'content-type': 'application/json',
      'x-event-key': 'repo:refs_changed',
      'x-request-id': randomUUID(),
    });
    expect(res.status).toBe(200);
    expect(res.body.spec.revision.git.commit).toBe('178864a7d521b6f5e720b386b2c2b0ef8563e0dc');
    expect(res.body.spec.triggeredBy[0].message).toBe('Bitbucket WebHook');
  });

  it('generic: env only with allowEnv (a Warning otherwise), git.refs, YAML, an empty body, Idempotency-Key', async () => {
    await s.apiJson(
      'POST',
      BC_PATH(ns),
      forgeConfig('gen', { type: 'Generic', generic: { secret: SECRET } }),
    );
    await s.apiJson(
      'POST',
      BC_PATH(ns),
      forgeConfig('genenv', { type: 'Generic', generic: { secret: SECRET, allowEnv: true } }),
    );
    const json = { 'content-type': 'application/json' };
    const withEnv = fixture('generic-push-with-env.json');

    const dropped = await post(hookUrl('gen', 'generic'), withEnv, json);
    expect(dropped.status).toBe(200);
    expect(dropped.body.spec.revision.git.commit).toBe('9bdc3a26ff933b32f3e558636b58aea86a69f051');
    expect(dropped.headers.get('warning')).toBe(
      '299 - "env in the payload was ignored: the trigger does not set allowEnv"',
    );
    expect(JSON.stringify(dropped.body.spec.strategy)).not.toContain('EXAMPLE');

    const kept = await post(hookUrl('genenv', 'generic'), withEnv, json);
    expect(kept.body.spec.strategy.dockerStrategy.env).toEqual([{ name: 'EXAMPLE', value: 'sample-app' }]);
    expect(kept.headers.get('warning')).toBeNull();

    const refs = await post(hookUrl('gen', 'generic'), fixture('generic-post-receive-refs.json'), json);
    expect(refs.body.spec.revision.git).toMatchObject({
      commit: '2602ace61490de0513dfbd7c7de949356cf9bd17',
      author: { name: 'Joe Smith' },
    });

    const yaml = await post(hookUrl('gen', 'generic'), 'git:\n  ref: refs/heads/other\n  commit: abc1234\n', {
      'content-type': 'application/yaml',
    });
    expect(yaml).toMatchObject({ status: 200, body: { kind: 'Status' } });
    expect(yaml.body.message).toContain('other');

    const empty = await post(hookUrl('gen', 'generic'), undefined);
    expect(empty).toMatchObject({ status: 200, body: { kind: 'Build' } });
    expect(empty.body.spec.triggeredBy[0]).toMatchObject({
      message: 'Generic WebHook',
      genericWebHook: { secret: '<secret>' },
    });

    const key = { ...json, 'idempotency-key': randomUUID() };
    const once = await post(hookUrl('gen', 'generic'), withEnv, key);
    const twice = await post(hookUrl('gen', 'generic'), withEnv, key);
    expect(once.body.kind).toBe('Build');
    expect(twice.body).toMatchObject({ kind: 'Status', message: expect.stringContaining('already handled') });

    const bad = await post(hookUrl('gen', 'generic'), '{not json', json);
    expect(bad.status).toBe(400);
    const names = (await builds('gen')).map((b) => b.metadata.name);
    expect(names).toEqual(['gen-1', 'gen-2', 'gen-3', 'gen-4']);
  });
});

describe('the 25 MB cap', () => {
  it('answers 413 on every webhook endpoint for a body over 25 MB', async () => {
    await s.apiJson(
      'POST',
      BC_PATH(ns),
      buildConfig('big', { triggers: [{ type: 'Generic', generic: { secret: SECRET } }] }),
    );
    const body = Buffer.alloc(25 * 1024 * 1024 + 1, 0x20);
    const signature = await sign('x', 'unused');
    for (const url of [
      hookUrl('big', 'generic'),
      `${s.http.url}/webhooks/github`,
      `${s.http.url}/webhooks/registry`,
    ]) {
      const res = await post(url, body, {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': signature,
      });
      expect([url, res.status, res.body.reason]).toEqual([url, 413, 'RequestEntityTooLarge']);
    }
    expect(await builds('big')).toEqual([]);
    // Exactly at the cap is read (and then judged on its content).
    const atCap = await post(hookUrl('big', 'generic'), Buffer.alloc(25 * 1024 * 1024, 0x20), {
      'content-type': 'text/plain',
    });
    expect(atCap.status).toBe(200);
  });
});
