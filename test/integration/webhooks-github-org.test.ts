/**
 * `POST /webhooks/github`, the org/App endpoint, on a running Slipway: every payload of
 * @octokit/webhooks-examples signed with @octokit/webhooks' real sign() gets a 2xx or a
 * deliberate 4xx, only pushes that match a BuildConfig's repository, trigger and ref
 * start builds (routed from the push inbox as a worker routes them), redeliveries start
 * nothing, and the index follows BuildConfig changes. No build workers: the builds stay
 * New, which is all these tests look at.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { pushInboxKey } from '../../src/store/push-inbox.js';
import { RedisBuildConfigIndex } from '../../src/store/redis-buildconfig-index.js';
import { waitFor } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { examplesOf, githubExamples, githubHeaders, post } from '../support/webhooks.js';

let s: TestSlipway;
let index: RedisBuildConfigIndex;
const ns = `org-${randomUUID().slice(0, 8)}`;
const ORG_SECRET = `org-${randomUUID()}`;
const HELLO = 'https://github.com/Codertocat/Hello-World';

beforeAll(async () => {
  s = await startSlipway({ workers: 0, config: { githubSecret: ORG_SECRET } });
  index = new RedisBuildConfigIndex(s.rt.redis, s.rt.prefix);
});
afterAll(async () => s?.stop());

const orgUrl = (): string => `${s.http.url}/webhooks/github`;

function bc(
  name: string,
  uri: string,
  extra: {
    ref?: string;
    trigger?: Record<string, unknown> | null;
    annotations?: Record<string, string>;
  } = {},
): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: {
      source: { git: { uri, ...(extra.ref !== undefined ? { ref: extra.ref } : {}) } },
      strategy: { type: 'Docker', dockerStrategy: {} },
      triggers:
        extra.trigger === null
          ? []
          : [{ type: 'GitHub', github: { secret: 'per-bc-secret-unused-here', ...extra.trigger } }],
    },
  };
}

async function buildNames(): Promise<string[]> {
  const list = await s.apiJson<{ items: Resource[] }>('GET', BUILD_PATH(ns));
  return list.items.map((b) => b.metadata.name).sort();
}

/** The builds once every recorded push has been routed (the inbox is empty). */
async function routedBuildNames(): Promise<string[]> {
  await waitFor(
    'recorded pushes routed',
    async () => (await s.rt.redis.xlen(pushInboxKey(s.rt.prefix))) === 0,
  );
  return buildNames();
}

/** The index is fed by the store's watch: wait until it names `count` BuildConfigs of the repository. */
async function indexed(repoUrl: string, count: number): Promise<void> {
  await waitFor(
    `${count} BuildConfigs indexed for ${repoUrl}`,
    async () => (await index.lookup([repoUrl])).filter((k) => k.namespace === ns).length === count,
  );
}

async function deliver(event: string, payload: unknown, delivery = randomUUID()) {
  const body = JSON.stringify(payload);
  return post(orgUrl(), body, await githubHeaders(event, body, ORG_SECRET, delivery));
}

describe('replaying @octokit/webhooks-examples', () => {
  beforeAll(async () => {
    for (const config of [
      bc('hello-https', `${HELLO}.git`, { ref: 'master' }),
      bc('hello-ssh', 'git@github.com:codertocat/hello-world.git', { ref: 'master' }),
      bc('hello-default-branch', `${HELLO}.git`),
      bc('hello-tags', HELLO, {
        ref: 'master',
        trigger: { includeTags: true, refs: ['master', 'refs/tags/simple-*'] },
      }),
      bc('hello-main', `${HELLO}.git`, { ref: 'main' }),
      bc('hello-no-trigger', `${HELLO}.git`, { ref: 'master', trigger: null }),
      bc('hello-paused', `${HELLO}.git`, {
        ref: 'master',
        annotations: { 'openshift.io/build-config.paused': 'true' },
      }),
      bc('other-repo', 'https://github.com/octo-org/octo-repo.git', { ref: 'master' }),
    ]) {
      await s.apiJson('POST', BC_PATH(ns), config);
    }
    await indexed(HELLO, 7);
  });

  it('every delivery gets 2xx, never a 5xx; only matching pushes start builds', async () => {
    const codes: Record<string, number> = {};
    let total = 0;
    for (const group of githubExamples) {
      for (const example of group.examples) {
        const res = await deliver(group.name, example);
        total++;
        codes[res.status] = (codes[res.status] ?? 0) + 1;
        if (group.name === 'ping') expect([group.name, res.status]).toEqual(['ping', 200]);
        else expect([group.name, res.status]).toEqual([group.name, 202]);
      }
    }
    expect(total).toBeGreaterThan(300);
    expect(Object.keys(codes).sort()).toEqual(['200', '202']);

    // Seven push examples: two create master, one creates tag simple-tag, four delete the tag.
    const pushes = examplesOf('push');
    expect(pushes.filter((p) => p.ref === 'refs/heads/master' && !p.deleted)).toHaveLength(2);
    expect(await routedBuildNames()).toEqual([
      'hello-default-branch-1', // empty ref: the payload's default branch, master
      'hello-default-branch-2',
      'hello-https-1',
      'hello-https-2',
      'hello-ssh-1', // the ssh form of the same repository, in other letter case
      'hello-ssh-2',
      'hello-tags-1',
      'hello-tags-2',
      'hello-tags-3', // the tag creation; deletions never build
    ]);
  });

  it('answers a push naming the BuildConfigs that use the repository; routing builds the ones it should', async () => {
    const push = examplesOf('push').find((p) => p.ref === 'refs/heads/master')!;
    const before = await routedBuildNames();
    const res = await deliver('push', push);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ kind: 'Status', status: 'Success', code: 202 });
    // other-repo is not named: another repository.
    expect(res.body.buildConfigs).toEqual(
      [
        'hello-default-branch',
        'hello-https',
        'hello-main',
        'hello-no-trigger',
        'hello-paused',
        'hello-ssh',
        'hello-tags',
      ].map((n) => `${ns}/${n}`),
    );
    // Built: the four whose trigger and ref match; not hello-main (branch main), hello-no-trigger, hello-paused.
    const after = await routedBuildNames();
    expect(after.filter((n) => !before.includes(n))).toEqual([
      'hello-default-branch-3',
      'hello-https-3',
      'hello-ssh-3',
      'hello-tags-4',
    ]);
    const build = await s.apiJson('GET', BUILD_PATH(ns, 'hello-https-3'));
    expect((build.spec as any).revision.git.commit).toBe(push.after);
    expect((build.spec as any).triggeredBy[0].message).toBe('GitHub WebHook');
  });

  it('a redelivery (same X-GitHub-Delivery) starts nothing', async () => {
    const push = examplesOf('push').find((p) => p.ref === 'refs/heads/master')!;
    const before = await routedBuildNames();
    const delivery = randomUUID();
    const first = await deliver('push', push, delivery);
    expect(first.body.buildConfigs).toHaveLength(7);
    const again = await deliver('push', push, delivery);
    expect(again).toMatchObject({
      status: 200,
      body: { kind: 'Status', message: expect.stringContaining('already handled') },
    });
    expect(await routedBuildNames()).toHaveLength(before.length + 4);
  });
});

describe('authentication', () => {
  it('refuses unsigned, wrongly signed and tampered deliveries with 401 and starts nothing', async () => {
    const before = await routedBuildNames();
    const push = examplesOf('push').find((p) => p.ref === 'refs/heads/master')!;
    const body = JSON.stringify(push);
    const unsigned = await post(orgUrl(), body, await githubHeaders('push', body));
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.message).toContain('missing X-Hub-Signature-256');
    const wrong = await post(orgUrl(), body, await githubHeaders('push', body, 'not-the-org-secret'));
    expect(wrong).toMatchObject({ status: 401, body: { reason: 'Unauthorized' } });
    const tampered = await post(
      orgUrl(),
      body.replace('Codertocat', 'Attacker'),
      await githubHeaders('push', body, ORG_SECRET),
    );
    expect(tampered.status).toBe(401);
    expect(await routedBuildNames()).toEqual(before);
  });

  it('is off, with a 404 that says how to turn it on, when no githubSecret is configured', async () => {
    const plain = await startSlipway({ workers: 0, registry: s.registry });
    try {
      const body = JSON.stringify(examplesOf('ping')[0]);
      const res = await post(
        `${plain.http.url}/webhooks/github`,
        body,
        await githubHeaders('ping', body, 'anything'),
      );
      expect(res.status).toBe(404);
      expect(res.body.message).toContain('SLIPWAY_GITHUB_SECRET');
    } finally {
      await plain.stop();
    }
  });
});

describe('the repository index follows BuildConfigs', () => {
  const octo = 'https://github.com/octo-org/octo-repo';
  const push = (): Record<string, any> => {
    const p = examplesOf('push').find((x) => x.ref === 'refs/heads/master')!;
    const repository = {
      ...p.repository,
      full_name: 'octo-org/octo-repo',
      clone_url: `${octo}.git`,
      html_url: octo,
      url: octo,
    };
    return {
      ...p,
      repository: {
        ...repository,
        ssh_url: 'git@github.com:octo-org/octo-repo.git',
        git_url: 'git://github.com/octo-org/octo-repo.git',
      },
    };
  };

  it('a changed git URI moves a BuildConfig to its new repository; a deleted one builds nothing', async () => {
    const moved = await s.apiJson('GET', BC_PATH(ns, 'hello-main'));
    await s.apiJson('PUT', BC_PATH(ns, 'hello-main'), {
      ...moved,
      spec: { ...(moved.spec as object), source: { git: { uri: `${octo}.git`, ref: 'master' } } },
    });
    await indexed(octo, 2);
    const res = await deliver('push', push());
    expect(res.body.buildConfigs).toEqual([`${ns}/hello-main`, `${ns}/other-repo`]);
    expect(await routedBuildNames()).toEqual(expect.arrayContaining(['hello-main-1', 'other-repo-1']));
    await s.api('DELETE', BC_PATH(ns, 'other-repo'));
    await indexed(octo, 1);
    expect((await deliver('push', push())).body.buildConfigs).toEqual([`${ns}/hello-main`]);
    const names = await routedBuildNames();
    expect(names).toContain('hello-main-2');
    expect(names).not.toContain('other-repo-2');
  });

  it('keeps working after Redis restarts, with BuildConfigs created after the restart', async () => {
    await s.redis.restart();
    await waitFor(
      'the server to reach Redis again',
      async () => (await fetch(`${s.http.url}/readyz`)).status === 200,
      30000,
      200,
    );
    await s.apiJson('POST', BC_PATH(ns), bc('after-restart', `${octo}.git`, { ref: 'master' }));
    await indexed(octo, 2);
    const res = await deliver('push', push());
    expect(res.status).toBe(202);
    expect(res.body.buildConfigs).toEqual([`${ns}/after-restart`, `${ns}/hello-main`]);
    expect(await routedBuildNames()).toEqual(expect.arrayContaining(['after-restart-1', 'hello-main-3']));
  });
});
