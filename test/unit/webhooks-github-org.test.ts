/**
 * The org/App endpoint core, fed every payload of @octokit/webhooks-examples
 * (api.github.com), signed as GitHub signs them with @octokit/webhooks' real sign().
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Webhooks } from '@octokit/webhooks';
import { Redis } from 'ioredis';
import type { Resource } from '../../src/core/resource.js';
import { MemoryBuildConfigIndex } from '../../src/triggers/buildconfig-index.js';
import { RedisDeliveryClaims } from '../../src/store/delivery-claims.js';
import { routePush } from '../../src/triggers/push-decision.js';
import { findBuildsForPush } from '../../src/triggers/push-router.js';
import {
  createGitHubOrgReceiver,
  type GitHubOrgWebhookResult,
} from '../../src/webhooks/github-org-webhook.js';
import { MAX_WEBHOOK_BODY_BYTES, type WebhookRequest } from '../../src/webhooks/request.js';
import { startRedis, type RedisHandle } from '../support/stack.js';

interface ExampleGroup {
  name: string;
  examples: Record<string, unknown>[];
}
const require = createRequire(import.meta.url);
const groups = require('@octokit/webhooks-examples') as ExampleGroup[];

const SECRET = 'org-secret-' + randomUUID();
const signer = new Webhooks({ secret: SECRET });
const receiver = createGitHubOrgReceiver({ secret: SECRET });

function request(
  body: string | Buffer,
  headers: Record<string, string | undefined>,
  method = 'POST',
): WebhookRequest {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    method,
    getHeader: (n) => lower[n.toLowerCase()],
    rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body),
  };
}

async function signed(
  event: string,
  payload: unknown,
  extra: Record<string, string | undefined> = {},
): Promise<WebhookRequest> {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return request(body, {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': randomUUID(),
    'x-hub-signature-256': await signer.sign(body),
    ...extra,
  });
}

function status(r: GitHubOrgWebhookResult): number {
  return r.action === 'reply' ? r.reply.status : 200;
}

const pushes = groups.find((g) => g.name === 'push')!.examples;
const masterPush = pushes.find((p) => p.ref === 'refs/heads/master')!;
// The examples' branch pushes all create their branch; a push to an existing branch is
// the same payload with created: false (the paths filter only trusts those).
const updatePush = { ...masterPush, created: false };

function buildConfig(
  name: string,
  uri: string,
  trigger: Record<string, unknown> | undefined,
  extra: Record<string, unknown> = {},
): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: 'team', resourceVersion: '1' },
    spec: {
      source: { type: 'Git', git: { uri, ...extra } },
      strategy: { type: 'Docker' },
      triggers: trigger
        ? [{ type: 'GitHub', github: { secret: 'unused-by-the-org-endpoint', ...trigger } }]
        : [],
    },
  };
}

describe('every @octokit/webhooks-examples delivery', () => {
  it('gets 200 (ping), a push event, or 202 (ignored); never a throw', async () => {
    let total = 0;
    const seen: Record<string, number> = {};
    for (const group of groups) {
      for (const example of group.examples) {
        total++;
        const result = await receiver.receive(await signed(group.name, example));
        const code = status(result);
        seen[code] = (seen[code] ?? 0) + 1;
        if (group.name === 'ping') expect(result).toMatchObject({ action: 'reply', reply: { status: 200 } });
        else if (group.name === 'push') expect(result.action).toBe('push');
        else expect(result).toMatchObject({ action: 'reply', reply: { status: 202 } });
      }
    }
    expect(total).toBeGreaterThan(250);
    expect(Object.keys(seen).sort()).toEqual(['200', '202']);
  });

  it('turns each push example into a PushEvent with its URLs, ref, head commit and deletion flag', async () => {
    for (const example of pushes) {
      const result = await receiver.receive(await signed('push', example));
      if (result.action !== 'push') throw new Error(`push example gave ${JSON.stringify(result)}`);
      const repo = example.repository as Record<string, string>;
      expect(result.repository).toBe(repo.full_name);
      expect(result.push.repoUrls).toEqual(
        expect.arrayContaining([repo.clone_url, repo.ssh_url, repo.git_url, repo.html_url]),
      );
      expect(result.push.defaultBranch).toBe(repo.default_branch);
      const [pushed] = result.push.refs;
      expect(pushed!.ref).toBe(example.ref);
      expect(pushed!.deleted).toBe(example.deleted);
      const head = example.head_commit as {
        id: string;
        message: string;
        author: { name: string; email: string };
      } | null;
      if (head) {
        expect(pushed!.revision.git).toMatchObject({
          commit: head.id,
          message: head.message,
          author: { name: head.author.name, email: head.author.email },
        });
      }
    }
    const created = await receiver.receive(await signed('push', masterPush));
    expect(created.action === 'push' && created.push.changedPaths).toBeUndefined();
    const updated = await receiver.receive(await signed('push', updatePush));
    expect(updated.action === 'push' && updated.push.changedPaths).toEqual(['README.md']);
  });

  it('routes only matching pushes to BuildConfigs of the same repository', async () => {
    const configs = [
      buildConfig('https-master', 'https://github.com/Codertocat/Hello-World.git', {}, { ref: 'master' }),
      buildConfig('ssh-default', 'git@github.com:codertocat/hello-world.git', {}),
      buildConfig(
        'tags',
        'git://github.com/Codertocat/Hello-World.git',
        { includeTags: true },
        { ref: 'release' },
      ),
      buildConfig('other-branch', 'https://github.com/Codertocat/Hello-World', {}, { ref: 'develop' }),
      buildConfig('no-trigger', 'https://github.com/Codertocat/Hello-World', undefined),
      buildConfig('other-repo', 'https://github.com/Codertocat/Other', {}),
    ];
    const built: string[] = [];
    for (const example of pushes) {
      const result = await receiver.receive(await signed('push', example));
      if (result.action !== 'push') throw new Error('expected a push');
      const routed = routePush({ push: result.push, buildConfigs: configs });
      for (const b of routed.builds)
        built.push(`${String(example.ref)}${example.deleted ? ' (deleted)' : ''} → ${b.buildConfig.name}`);
      expect(routed.builds.length + routed.skipped.length).toBe(configs.length);
    }
    // Two master pushes, one created tag; deleted tags and other branches never build.
    expect(built.sort()).toEqual([
      'refs/heads/master → https-master',
      'refs/heads/master → https-master',
      'refs/heads/master → ssh-default',
      'refs/heads/master → ssh-default',
      'refs/tags/simple-tag → tags',
    ]);
    const result = await receiver.receive(await signed('push', masterPush));
    const routed =
      result.action === 'push' ? routePush({ push: result.push, buildConfigs: configs }) : undefined;
    expect(routed?.builds[0]?.request).toEqual({
      revision: {
        type: 'Git',
        git: {
          commit: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
          author: { name: 'Codertocat', email: '21031067+Codertocat@users.noreply.github.com' },
          committer: { name: 'Codertocat', email: '21031067+Codertocat@users.noreply.github.com' },
          message: 'Initial commit',
        },
      },
      triggeredBy: [
        {
          message: 'GitHub WebHook',
          githubWebHook: {
            secret: '<secret>',
            revision: expect.objectContaining({ type: 'Git' }),
          },
        },
      ],
    });
    expect(routed?.skipped.map((s) => [s.buildConfig.name, s.reason])).toEqual([
      ['tags', 'skipping build: branch master does not match release'],
      ['other-branch', 'skipping build: branch master does not match develop'],
      ['no-trigger', 'it has no GitHub trigger'],
      ['other-repo', 'its git URI names another repository'],
    ]);
  });

  it('skips a push that touches nothing under contextDir, saying why', async () => {
    const monorepo = buildConfig('api', 'https://github.com/Codertocat/Hello-World', {}, { ref: 'master' });
    (monorepo.spec as { source: Record<string, unknown> }).source.contextDir = 'services/api';
    const result = await receiver.receive(await signed('push', updatePush));
    const routed =
      result.action === 'push' ? routePush({ push: result.push, buildConfigs: [monorepo] }) : undefined;
    expect(routed?.skipped).toEqual([
      {
        buildConfig: { namespace: 'team', name: 'api' },
        reason: 'skipping build: none of the 1 changed paths matches services/api/**',
      },
    ]);
    // A new branch is built whatever it touched: its payload does not list all its files.
    const created = await receiver.receive(await signed('push', masterPush));
    expect(
      created.action === 'push' && routePush({ push: created.push, buildConfigs: [monorepo] }).builds,
    ).toHaveLength(1);
  });
});

describe('status codes', () => {
  it('401 without a signature, with a wrong one, a tampered body or a SHA-1 only signature', async () => {
    const body = JSON.stringify(masterPush);
    const base = {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': randomUUID(),
    };
    const cases: Record<string, WebhookRequest> = {
      unsigned: request(body, base),
      'wrong secret': request(body, {
        ...base,
        'x-hub-signature-256': await new Webhooks({ secret: 'nope' }).sign(body),
      }),
      tampered: request(body.replace('Initial commit', 'Evil change'), {
        ...base,
        'x-hub-signature-256': await signer.sign(body),
      }),
      'sha1 only': request(body, { ...base, 'x-hub-signature': 'sha1=' + '0'.repeat(40) }),
      malformed: request(body, { ...base, 'x-hub-signature-256': 'sha256=xyz' }),
      'empty body': request('', { ...base, 'x-hub-signature-256': 'sha256=' + '0'.repeat(64) }),
    };
    for (const [name, req] of Object.entries(cases)) {
      const r = await receiver.receive(req);
      expect([name, status(r)]).toEqual([name, 401]);
    }
  });

  it('400 for a signed delivery without event header, with bad JSON, a form body or a push without ref', async () => {
    const noEvent = await signed('push', masterPush, { 'x-github-event': undefined });
    expect(await receiver.receive(noEvent)).toEqual({
      action: 'reply',
      reply: { status: 400, reason: 'BadRequest', message: 'missing X-GitHub-Event' },
    });
    const badJson = await receiver.receive(await signed('push', '{"ref": "refs/heads/main",'));
    expect(badJson.action === 'reply' && badJson.reply.message).toMatch(/^the payload is not valid JSON: /);
    const form = await receiver.receive(
      await signed('push', 'payload=%7B%7D', { 'content-type': 'application/x-www-form-urlencoded' }),
    );
    expect(status(form)).toBe(400);
    for (const odd of ['null', '[]', '"text"', '{"ref": 5}', '{}']) {
      expect([odd, status(await receiver.receive(await signed('push', odd)))]).toEqual([odd, 400]);
    }
  });

  it('405 for GET, 413 over 25 MB, and a start-up error without a secret', async () => {
    const get = await signed('push', masterPush);
    expect(status(await receiver.receive({ ...get, method: 'GET' }))).toBe(405);
    const huge = Buffer.alloc(MAX_WEBHOOK_BODY_BYTES + 1, 0x20);
    expect(status(await receiver.receive(request(huge, { 'x-github-event': 'push' })))).toBe(413);
    expect(() => createGitHubOrgReceiver({ secret: '' })).toThrow('SLIPWAY_GITHUB_SECRET');
  });
});

describe('redelivery against a real Redis', () => {
  let redisHandle: RedisHandle;
  let redis: Redis;
  beforeAll(async () => {
    redisHandle = await startRedis();
    redis = new Redis(redisHandle.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await redisHandle.stop();
  });

  it('the same X-GitHub-Delivery starts builds once', async () => {
    const claims = new RedisDeliveryClaims(redis, `t-${randomUUID()}`);
    const index = new MemoryBuildConfigIndex();
    const configs = new Map<string, Resource>();
    for (const bc of [
      buildConfig('web', 'https://github.com/Codertocat/Hello-World.git', {}, { ref: 'master' }),
      buildConfig('docs', 'git@github.com:Codertocat/Hello-World.git', {}, { ref: 'master' }),
    ]) {
      configs.set(bc.metadata.name, bc);
      await index.upsert(bc);
    }
    const started: string[] = [];
    // What the express route does: verify → claim → route → queue.
    const deliver = async (req: WebhookRequest): Promise<string> => {
      const r = await receiver.receive(req);
      if (r.action === 'reply') return `${r.reply.status}`;
      if (r.deliveryId && !(await claims.claimDelivery(r.deliveryId))) return '200 already handled';
      const routing = await findBuildsForPush({
        push: r.push,
        index,
        getBuildConfig: async (_ns, name) => configs.get(name),
      });
      for (const b of routing.builds) started.push(b.buildConfig.name);
      return `202 ${routing.builds.length} build(s)`;
    };
    const delivery = await signed('push', masterPush);
    expect(await deliver(delivery)).toBe('202 2 build(s)');
    expect(await deliver(delivery)).toBe('200 already handled');
    expect(await deliver(delivery)).toBe('200 already handled');
    expect(started.sort()).toEqual(['docs', 'web']);
    // A new delivery of the same payload is a new push (GitHub gives it a new GUID).
    expect(await deliver(await signed('push', masterPush))).toBe('202 2 build(s)');
    expect(started).toHaveLength(4);
  });
});
