/**
 * OpenShift's per-BuildConfig webhook URLs: every status code, secrets and signatures,
 * replayed GitHub examples, and the GitLab, Bitbucket Server and generic fixtures from
 * ../shared/fixtures/webhooks (data from openshift/origin's webhook tests).
 */
import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Webhooks } from '@octokit/webhooks';
import type { Resource } from '../../src/core/resource.js';
import type { BuildRequest } from '../../src/queue/instantiate.js';
import {
  handleBuildConfigWebhook,
  rejectedSecretMessage,
  type BuildConfigWebhookResult,
} from '../../src/webhooks/buildconfig-webhook.js';
import { MAX_WEBHOOK_BODY_BYTES, toStatusObject } from '../../src/webhooks/request.js';

const FIXTURES = new URL('../../../shared/fixtures/webhooks/', import.meta.url);
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
const require = createRequire(import.meta.url);
const githubExamples = require('@octokit/webhooks-examples') as {
  name: string;
  examples: Record<string, unknown>[];
}[];
const githubPushes = githubExamples.find((g) => g.name === 'push')!.examples;
const masterPush = JSON.stringify(githubPushes.find((p) => p.ref === 'refs/heads/master'));

const SECRET = 'secret101';

interface Call {
  type?: string;
  secret?: string;
  name?: string;
  method?: string;
  headers?: Record<string, string | undefined>;
  body?: string | Buffer;
  buildConfig?: Resource | undefined;
  secrets?: Record<string, Resource>;
}

function buildConfig(
  triggers: Record<string, unknown>[],
  git: Record<string, unknown> | undefined = {
    uri: 'https://github.com/Codertocat/Hello-World.git',
    ref: 'master',
  },
  extra: Record<string, unknown> = {},
): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name: 'web', namespace: 'team', resourceVersion: '7' },
    spec: {
      source: git ? { type: 'Git', git, ...extra } : { type: 'Binary', ...extra },
      strategy: { type: 'Docker' },
      triggers,
    },
  };
}

const allHooks = (opts: Record<string, unknown> = {}): Record<string, unknown>[] =>
  (['GitHub', 'GitLab', 'Bitbucket', 'Generic'] as const).map((type) => ({
    type,
    [type === 'GitHub'
      ? 'github'
      : type === 'GitLab'
        ? 'gitlab'
        : type === 'Bitbucket'
          ? 'bitbucket'
          : 'generic']: { secret: SECRET, ...opts },
  }));

async function call(c: Call): Promise<BuildConfigWebhookResult> {
  const headers = Object.fromEntries(Object.entries(c.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const body =
    c.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body);
  const bc = 'buildConfig' in c ? c.buildConfig : buildConfig(allHooks());
  return handleBuildConfigWebhook({
    namespace: 'team',
    name: c.name ?? 'web',
    secret: c.secret ?? SECRET,
    type: c.type ?? 'github',
    request: { method: c.method ?? 'POST', getHeader: (n) => headers[n.toLowerCase()], rawBody: body },
    getBuildConfig: async (ns, name) => (bc && ns === 'team' && name === bc.metadata.name ? bc : undefined),
    getSecret: async (ns, name) => (ns === 'team' ? c.secrets?.[name] : undefined),
  });
}

const github = (
  event: string,
  body: string,
  extra: Record<string, string | undefined> = {},
): Pick<Call, 'headers' | 'body'> => ({
  headers: {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': 'd-1',
    ...extra,
  },
  body,
});

function replyOf(r: BuildConfigWebhookResult): { status: number; message: string } {
  return r.action === 'reply'
    ? { status: r.reply.status, message: r.reply.message }
    : { status: 200, message: `build: ${r.message}` };
}

function built(r: BuildConfigWebhookResult): Extract<BuildConfigWebhookResult, { action: 'build' }> {
  if (r.action !== 'build') throw new Error(`expected a build, got ${r.reply.status} ${r.reply.message}`);
  return r;
}

describe('authentication (OpenShift status codes)', () => {
  const unauthorized = { status: 401, message: rejectedSecretMessage('github', 'web') };

  it('answers one 401 message for an unknown BuildConfig, no trigger of the type, or a wrong secret', async () => {
    expect(unauthorized.message).toBe('the webhook "github" for "web" did not accept your secret');
    const push = github('push', masterPush);
    expect(replyOf(await call({ ...push, buildConfig: undefined }))).toEqual(unauthorized);
    expect(
      replyOf(
        await call({ ...push, buildConfig: buildConfig([{ type: 'Generic', generic: { secret: SECRET } }]) }),
      ),
    ).toEqual(unauthorized);
    expect(replyOf(await call({ ...push, secret: 'secret102' }))).toEqual(unauthorized);
    expect(replyOf(await call({ ...push, secret: '' }))).toEqual(unauthorized);
    // A trigger with an empty secret opens nothing, not even an empty URL secret.
    expect(
      replyOf(
        await call({
          ...push,
          secret: '',
          buildConfig: buildConfig([{ type: 'GitHub', github: { secret: '' } }]),
        }),
      ),
    ).toEqual(unauthorized);
    expect(toStatusObject({ status: 401, reason: 'Unauthorized', message: unauthorized.message })).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: unauthorized.message,
      reason: 'Unauthorized',
      code: 401,
    });
  });

  it('accepts any trigger of the type, with an inline secret or a secretReference', async () => {
    const viaRef = buildConfig([
      { type: 'GitHub', github: { secret: 'first-secret' } },
      { type: 'GitHub', github: { secretReference: { name: 'hook-secret' } } },
    ]);
    const secrets = {
      'hook-secret': {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'hook-secret' },
        data: { WebHookSecretKey: Buffer.from('from-a-secret').toString('base64') },
      } as Resource,
    };
    const push = github('push', masterPush);
    expect((await call({ ...push, buildConfig: viaRef, secrets, secret: 'from-a-secret' })).action).toBe(
      'build',
    );
    expect((await call({ ...push, buildConfig: viaRef, secrets, secret: 'first-secret' })).action).toBe(
      'build',
    );
    expect(replyOf(await call({ ...push, buildConfig: viaRef, secret: 'from-a-secret' }))).toEqual(
      unauthorized,
    );
    const stringData = {
      'hook-secret': {
        ...secrets['hook-secret'],
        data: undefined,
        stringData: { WebHookSecretKey: 'plain' },
      } as Resource,
    };
    expect((await call({ ...push, buildConfig: viaRef, secrets: stringData, secret: 'plain' })).action).toBe(
      'build',
    );
  });

  it('404 for an unknown hook type, 405 for other methods, 413 over 25 MB', async () => {
    expect(replyOf(await call({ type: 'gitea' })).status).toBe(404);
    expect(replyOf(await call({ ...github('push', masterPush), method: 'GET' })).status).toBe(405);
    expect(
      replyOf(await call({ ...github('push', 'x'), body: Buffer.alloc(MAX_WEBHOOK_BODY_BYTES + 1) })).status,
    ).toBe(413);
  });
});

describe('GitHub', () => {
  it('starts a build of the pushed head commit, recorded as OpenShift records it', async () => {
    const result = built(await call(github('push', masterPush)));
    const request: BuildRequest = result.request; // the queue's instantiate takes it as it is
    expect(request).toEqual({
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
          githubWebHook: { secret: '<secret>', revision: result.request.revision },
        },
      ],
    });
    expect(result.deliveryId).toBe('github:d-1:team/web');
    expect(result.buildConfig.metadata.name).toBe('web');
  });

  it('200 without a build for ping and for a push to another branch', async () => {
    expect(replyOf(await call(github('ping', '{}')))).toEqual({
      status: 200,
      message: 'ping received; a ping starts no build',
    });
    const develop = buildConfig(allHooks(), {
      uri: 'https://github.com/Codertocat/Hello-World.git',
      ref: 'develop',
    });
    expect(replyOf(await call({ ...github('push', masterPush), buildConfig: develop }))).toEqual({
      status: 200,
      message: 'skipping build: branch master does not match develop',
    });
  });

  it('400 for a bad Content-Type, a missing event header, unparseable JSON, or another event', async () => {
    const cases: [string, Call][] = [
      ['form body', github('push', masterPush, { 'content-type': 'application/x-www-form-urlencoded' })],
      ['no content type', github('push', masterPush, { 'content-type': undefined })],
      ['garbled content type', github('push', masterPush, { 'content-type': 'json' })],
      ['no event header', github('push', masterPush, { 'x-github-event': undefined })],
      ['bad JSON', github('push', '{"ref":')],
      ['issues event', github('issues', '{}')],
      ['push without ref', github('push', '{"repository": {}}')],
    ];
    for (const [name, c] of cases) expect([name, replyOf(await call(c)).status]).toEqual([name, 400]);
    expect(
      replyOf(await call(github('push', masterPush, { 'x-github-event': undefined, 'x-gogs-event': 'push' })))
        .status,
    ).toBe(200);
  });

  it('verifies X-Hub-Signature-256 against the trigger secret and can require it', async () => {
    const sign = (secret: string, body: string): Promise<string> => new Webhooks({ secret }).sign(body);
    const good = github('push', masterPush, { 'x-hub-signature-256': await sign(SECRET, masterPush) });
    expect((await call(good)).action).toBe('build');
    const other = github('push', masterPush, { 'x-hub-signature-256': await sign('another', masterPush) });
    expect(replyOf(await call(other)).status).toBe(401);
    const tampered = { ...good, body: masterPush.replace('Initial commit', 'Sneaky') };
    expect(replyOf(await call(tampered)).status).toBe(401);
    const strict = buildConfig([{ type: 'GitHub', github: { secret: SECRET, requireSignature: true } }]);
    const unsigned = await call({ ...github('push', masterPush), buildConfig: strict });
    expect(replyOf(unsigned)).toEqual({
      status: 401,
      message:
        'this trigger requires signed deliveries: X-Hub-Signature-256 is missing (set a secret on the webhook)',
    });
    expect((await call({ ...good, buildConfig: strict })).action).toBe('build');
  });

  it('replays every push and ping example: a build, or 200, never a throw', async () => {
    const tags = buildConfig(allHooks({ includeTags: true }));
    for (const group of githubExamples.filter((g) => g.name === 'push' || g.name === 'ping')) {
      for (const example of group.examples) {
        for (const bc of [buildConfig(allHooks()), tags]) {
          const r = await call({ ...github(group.name, JSON.stringify(example)), buildConfig: bc });
          const shouldBuild =
            group.name === 'push' &&
            example.deleted === false &&
            (bc === tags || example.ref === 'refs/heads/master');
          expect([group.name, example.ref, r.action]).toEqual([
            group.name,
            example.ref,
            shouldBuild ? 'build' : 'reply',
          ]);
          if (r.action === 'reply') expect(r.reply.status).toBe(200);
        }
      }
    }
  });

  it('applies glob refs and the paths filter from the trigger', async () => {
    const release = JSON.stringify({
      ...JSON.parse(masterPush),
      ref: 'refs/heads/release/1.4',
      created: false,
    });
    const globbed = buildConfig([{ type: 'GitHub', github: { secret: SECRET, refs: ['release/*'] } }]);
    expect((await call({ ...github('push', release), buildConfig: globbed })).action).toBe('build');
    expect(replyOf(await call({ ...github('push', masterPush), buildConfig: globbed })).message).toBe(
      'skipping build: branch master does not match release/*',
    );
    const docsOnly = buildConfig([
      { type: 'GitHub', github: { secret: SECRET, refs: ['release/*'], paths: ['src/**'] } },
    ]);
    expect(replyOf(await call({ ...github('push', release), buildConfig: docsOnly }))).toEqual({
      status: 200,
      message: 'skipping build: none of the 1 changed paths matches src/**',
    });
  });
});

describe('GitLab (fixture gitlab-push-hook.json)', () => {
  const body = fixture('gitlab-push-hook.json');
  const headers = {
    'content-type': 'application/json',
    'x-gitlab-event': 'Push Hook',
    'x-gitlab-event-uuid': 'g-1',
  };

  it('builds the head commit, the author standing in as committer', async () => {
    const r = built(await call({ type: 'gitlab', headers, body }));
    expect(r.request.revision).toEqual({
      type: 'Git',
      git: {
        commit: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
        author: { name: 'GitLab dev user', email: 'gitlabdev@dv6700.(none)' },
        committer: { name: 'GitLab dev user', email: 'gitlabdev@dv6700.(none)' },
        message: 'fixed readme',
      },
    });
    expect(r.request.triggeredBy[0]).toEqual({
      message: 'GitLab WebHook',
      gitlabWebHook: { secret: '<secret>', revision: r.request.revision },
    });
    expect(r.deliveryId).toBe('gitlab:g-1:team/web');
  });

  it('checks X-Gitlab-Token and the event header', async () => {
    expect(
      (await call({ type: 'gitlab', headers: { ...headers, 'x-gitlab-token': SECRET }, body })).action,
    ).toBe('build');
    expect(
      replyOf(await call({ type: 'gitlab', headers: { ...headers, 'x-gitlab-token': 'nope' }, body })).status,
    ).toBe(401);
    const strict = buildConfig([{ type: 'GitLab', gitlab: { secret: SECRET, requireSignature: true } }]);
    expect(replyOf(await call({ type: 'gitlab', headers, body, buildConfig: strict })).status).toBe(401);
    expect(
      replyOf(await call({ type: 'gitlab', headers: { ...headers, 'x-gitlab-event': undefined }, body })),
    ).toEqual({
      status: 400,
      message: 'missing X-Gitlab-Event',
    });
    expect(
      replyOf(await call({ type: 'gitlab', headers: { ...headers, 'x-gitlab-event': 'Issue Hook' }, body }))
        .status,
    ).toBe(400);
  });

  it('lets a truncated commit list through the paths filter, and filters a complete one', async () => {
    const api = buildConfig(
      allHooks(),
      { uri: 'http://example.com/mike/diaspora.git', ref: 'master' },
      { contextDir: 'api' },
    );
    // total_commits_count is 4 but only 2 are listed: the files are not all known.
    expect((await call({ type: 'gitlab', headers, body, buildConfig: api })).action).toBe('build');
    const complete = JSON.stringify({ ...JSON.parse(body), total_commits_count: 2 });
    expect(replyOf(await call({ type: 'gitlab', headers, body: complete, buildConfig: api }))).toEqual({
      status: 200,
      message: 'skipping build: none of the 2 changed paths matches api/**',
    });
  });
});

describe('Bitbucket', () => {
  it('Bitbucket Server repo:refs_changed (fixture) builds toHash of the matching branch', async () => {
    const body = fixture('bitbucket-server-refs-changed.json');
    const headers = {
      'content-type': 'application/json',
      'x-event-key': 'repo:refs_changed',
      'x-request-id': 'b-1',
    };
    const r = built(await call({ type: 'bitbucket', headers, body }));
    expect(r.request.revision).toEqual({
      type: 'Git',
      git: { commit: '178864a7d521b6f5e720b386b2c2b0ef8563e0dc' },
    });
    expect(r.request.triggeredBy[0]!.message).toBe('Bitbucket WebHook');
    expect(r.deliveryId).toBe('bitbucket:b-1:team/web');
    expect(
      replyOf(await call({ type: 'bitbucket', headers: { ...headers, 'x-event-key': undefined }, body }))
        .status,
    ).toBe(400);
    expect(
      replyOf(await call({ type: 'bitbucket', headers: { ...headers, 'x-event-key': 'pr:opened' }, body }))
        .status,
    ).toBe(400);
    expect(
      replyOf(
        await call({
          type: 'bitbucket',
          headers: { ...headers, 'x-event-key': 'diagnostics:ping' },
          body: '{}',
        }),
      ).status,
    ).toBe(200);
    const deleted = JSON.stringify({
      ...JSON.parse(body),
      changes: [{ ...JSON.parse(body).changes[0], type: 'DELETE', toHash: '0'.repeat(40) }],
    });
    expect(replyOf(await call({ type: 'bitbucket', headers, body: deleted })).status).toBe(200);
  });

  // Shape from Atlassian's event-payload reference for Bitbucket Cloud repo:push.
  const cloudPush = (branch: string | null): string =>
    JSON.stringify({
      actor: { display_name: 'Jane Doe' },
      repository: { full_name: 'team/app', links: { html: { href: 'https://bitbucket.org/team/app' } } },
      push: {
        changes: [
          {
            new: branch
              ? {
                  type: 'branch',
                  name: branch,
                  target: {
                    hash: 'a'.repeat(40),
                    message: 'Fix the build\n',
                    author: { raw: 'Jane Doe <jane@example.com>' },
                  },
                }
              : null,
            old: { type: 'branch', name: 'master', target: { hash: 'b'.repeat(40) } },
            created: false,
            closed: branch === null,
          },
        ],
      },
    });

  it('Bitbucket Cloud repo:push builds the new head; a deletion does not; signatures are checked', async () => {
    const headers = { 'content-type': 'application/json', 'x-event-key': 'repo:push' };
    const r = built(await call({ type: 'bitbucket', headers, body: cloudPush('master') }));
    expect(r.request.revision).toEqual({
      type: 'Git',
      git: {
        commit: 'a'.repeat(40),
        author: { name: 'Jane Doe', email: 'jane@example.com' },
        committer: { name: 'Jane Doe', email: 'jane@example.com' },
        message: 'Fix the build\n',
      },
    });
    expect(replyOf(await call({ type: 'bitbucket', headers, body: cloudPush(null) })).message).toContain(
      'was deleted',
    );
    const body = cloudPush('master');
    const sig = await new Webhooks({ secret: SECRET }).sign(body);
    expect(
      (await call({ type: 'bitbucket', headers: { ...headers, 'x-hub-signature': sig }, body })).action,
    ).toBe('build');
    const wrong = await new Webhooks({ secret: 'x' }).sign(body);
    expect(
      replyOf(await call({ type: 'bitbucket', headers: { ...headers, 'x-hub-signature': wrong }, body }))
        .status,
    ).toBe(401);
  });
});

describe('generic', () => {
  const json = { 'content-type': 'application/json' };

  it('builds with no body at all, and ignores a body of another type with a warning', async () => {
    const bare = built(await call({ type: 'generic' }));
    expect(bare.request).toEqual({
      triggeredBy: [{ message: 'Generic WebHook', genericWebHook: { secret: '<secret>' } }],
    });
    const form = built(
      await call({
        type: 'generic',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'a=b',
      }),
    );
    expect(form.warning).toBe('invalid Content-Type on payload, ignoring payload and continuing with build');
  });

  it('uses env only with allowEnv (fixture generic-push-with-env.json)', async () => {
    const body = fixture('generic-push-with-env.json');
    const withoutEnv = built(await call({ type: 'generic', headers: json, body }));
    expect(withoutEnv.request.env).toBeUndefined();
    expect(withoutEnv.warning).toBe('env in the payload was ignored: the trigger does not set allowEnv');
    expect(withoutEnv.request.revision).toEqual({
      type: 'Git',
      git: {
        commit: '9bdc3a26ff933b32f3e558636b58aea86a69f051',
        author: { name: 'Jon Doe', email: 'jondoe@email.com' },
        committer: { name: 'Jon Doe', email: 'jondoe@email.com' },
        message: 'Random act of kindness',
      },
    });
    const allowed = buildConfig(allHooks({ allowEnv: true }));
    const withEnv = built(await call({ type: 'generic', headers: json, body, buildConfig: allowed }));
    expect(withEnv.request.env).toEqual([{ name: 'EXAMPLE', value: 'sample-app' }]);
    expect(withEnv.warning).toBeUndefined();
  });

  it('builds the first of git.refs that matches (fixture generic-post-receive-refs.json)', async () => {
    const body = fixture('generic-post-receive-refs.json');
    const r = built(await call({ type: 'generic', headers: json, body }));
    expect(r.request.revision?.git?.commit).toBe('2602ace61490de0513dfbd7c7de949356cf9bd17');
    const main = buildConfig(allHooks(), { uri: 'https://github.com/a/b', ref: 'main' });
    expect(replyOf(await call({ type: 'generic', headers: json, body, buildConfig: main }))).toEqual({
      status: 200,
      message: 'skipping build: branch master does not match main',
    });
  });

  it('reads YAML, and a payload without ref builds the configured branch', async () => {
    const yaml = 'git:\n  commit: abc1234\n  message: from yaml\nenv:\n  - name: A\n    value: "1"\n';
    const r = built(
      await call({
        type: 'generic',
        headers: { 'content-type': 'application/yaml' },
        body: yaml,
        buildConfig: buildConfig(allHooks({ allowEnv: true })),
      }),
    );
    expect(r.request.revision).toEqual({ type: 'Git', git: { commit: 'abc1234', message: 'from yaml' } });
    expect(r.request.env).toEqual([{ name: 'A', value: '1' }]);
  });

  it('400 for unparseable JSON or YAML; builds a non-git BuildConfig; keys redelivery on Idempotency-Key', async () => {
    expect(replyOf(await call({ type: 'generic', headers: json, body: '{"git":' })).status).toBe(400);
    expect(
      replyOf(await call({ type: 'generic', headers: { 'content-type': 'application/yaml' }, body: 'a: [1' }))
        .status,
    ).toBe(400);
    expect(replyOf(await call({ type: 'generic', headers: json, body: '[1,2]' })).status).toBe(400);
    const binary = buildConfig(allHooks(), undefined);
    expect(
      (
        await call({
          type: 'generic',
          headers: json,
          body: fixture('generic-push-with-env.json'),
          buildConfig: binary,
        })
      ).action,
    ).toBe('build');
    const noGit = built(await call({ type: 'generic', headers: json, body: '{"env": []}' }));
    expect(noGit.warning).toBe('no git information found in payload, ignoring and continuing with build');
    const key = randomUUID();
    expect(built(await call({ type: 'generic', headers: { 'idempotency-key': key } })).deliveryId).toBe(
      `generic:${key}:team/web`,
    );
  });

  it('stops for a paused BuildConfig with 200', async () => {
    const paused = buildConfig(allHooks());
    paused.metadata.annotations = { 'openshift.io/build-config.paused': 'true' };
    expect(replyOf(await call({ type: 'generic', buildConfig: paused })).status).toBe(200);
    expect(replyOf(await call({ ...github('push', masterPush), buildConfig: paused })).message).toContain(
      'is paused',
    );
  });
});
