/**
 * The runtime-neutral webhook delivery (src/webhooks/delivery.ts) against the in-memory
 * store and in-memory claims: claim, build, release on failure, answer. No Redis, no HTTP.
 */
import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Webhooks } from '@octokit/webhooks';
import { UnavailableError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/logger.js';
import { lookupKind, type Resource } from '../../src/core/resource.js';
import { statusObject } from '../../src/core/status.js';
import type { BuildRequest } from '../../src/queue/instantiate.js';
import type { DeliveryClaims } from '../../src/store/delivery-claims.js';
import { MemoryResourceStore } from '../../src/store/memory-store.js';
import { memoryPushIntake } from '../../src/store/push-intake.js';
import { routeQueuedPush } from '../../src/webhooks/push-routing.js';
import { MemoryBuildConfigIndex, repositoryKeys } from '../../src/triggers/buildconfig-index.js';
import { createGitHubOrgReceiver } from '../../src/webhooks/github-org-webhook.js';
import { githubRepositoryHint, parseGitHubPush } from '../../src/webhooks/github-payload.js';
import {
  deliverBuildConfigHook,
  deliverGitHubOrgHook,
  ORG_WEBHOOK_OFF_MESSAGE,
  type DeliveryDeps,
} from '../../src/webhooks/delivery.js';

const BUILD_CONFIG = lookupKind('build.openshift.io/v1', 'BuildConfig')!;
const SECRET = 'generic-secret-1';

/** Claims in a Set: the same first-wins contract as the Redis claims. */
class SetClaims implements DeliveryClaims {
  readonly held = new Set<string>();
  async claimDelivery(id: string): Promise<boolean> {
    if (this.held.has(id)) return false;
    this.held.add(id);
    return true;
  }
  async releaseDelivery(id: string): Promise<void> {
    this.held.delete(id);
  }
}

async function setUp(instantiateFails = 0): Promise<{
  deps: DeliveryDeps;
  claims: SetClaims;
  started: { ns: string; name: string; request: BuildRequest }[];
}> {
  const store = new MemoryResourceStore();
  await store.create(BUILD_CONFIG, {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name: 'web', namespace: 'team' },
    spec: {
      source: { type: 'Git', git: { uri: 'https://example.com/team/web.git', ref: 'main' } },
      strategy: { type: 'Docker' },
      triggers: [{ type: 'Generic', generic: { secret: SECRET } }],
    },
  });
  const claims = new SetClaims();
  const started: { ns: string; name: string; request: BuildRequest }[] = [];
  let failures = instantiateFails;
  const deps: DeliveryDeps = {
    store,
    claims,
    logger: createLogger('silent'),
    instantiate: async (ns, name, request): Promise<Resource> => {
      if (failures-- > 0) throw new UnavailableError('the build queue is not answering');
      started.push({ ns, name, request });
      return {
        apiVersion: 'build.openshift.io/v1',
        kind: 'Build',
        metadata: { name: `${name}-${started.length}`, namespace: ns },
      };
    },
  };
  return { deps, claims, started };
}

function generic(key: string | undefined, secret = SECRET) {
  const headers: Record<string, string | undefined> = { 'idempotency-key': key };
  return {
    namespace: 'team',
    name: 'web',
    secret,
    type: 'generic',
    request: { method: 'POST', getHeader: (n: string) => headers[n.toLowerCase()], rawBody: Buffer.alloc(0) },
  };
}

describe('per-BuildConfig delivery', () => {
  it('starts one build per delivery id and answers a redelivery with a 200 Status and no build', async () => {
    const { deps, started } = await setUp();
    const first = await deliverBuildConfigHook(deps, generic('k-1'));
    expect(first.status).toBe(200);
    expect(first.outcome).toBe('built');
    expect((first.body as Resource).kind).toBe('Build');
    const again = await deliverBuildConfigHook(deps, generic('k-1'));
    expect(again).toMatchObject({
      status: 200,
      outcome: 'duplicate',
      body: { kind: 'Status', status: 'Success', code: 200 },
    });
    expect((again.body as { message: string }).message).toMatch(/already handled/);
    expect(started).toHaveLength(1);
    // A delivery with another id builds again.
    await deliverBuildConfigHook(deps, generic('k-2'));
    expect(started).toHaveLength(2);
  });

  it('releases the claim when the build cannot start, so the retry builds', async () => {
    const { deps, claims, started } = await setUp(1);
    await expect(deliverBuildConfigHook(deps, generic('k-9'))).rejects.toThrow(UnavailableError);
    expect(claims.held.size).toBe(0);
    const retry = await deliverBuildConfigHook(deps, generic('k-9'));
    expect(retry.outcome).toBe('built');
    expect(started).toHaveLength(1);
  });

  it('answers a wrong secret with a 401 Failure Status, claims nothing and builds nothing', async () => {
    const { deps, claims, started } = await setUp();
    const a = await deliverBuildConfigHook(deps, generic('k-3', 'wrong'));
    expect(a.status).toBe(401);
    expect(a.outcome).toBe('rejected');
    expect(a.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 });
    expect(claims.held.size).toBe(0);
    expect(started).toHaveLength(0);
  });
});

describe('GitHub org/App delivery', () => {
  it('is off without a secret: 404 naming the setting, nothing claimed', async () => {
    const { claims } = await setUp();
    const a = await deliverGitHubOrgHook(
      { receiver: undefined, intake: memoryPushIntake(claims, new MemoryBuildConfigIndex()) },
      { method: 'POST', getHeader: () => undefined, rawBody: Buffer.from('{}') },
    );
    expect(a).toMatchObject({ status: 404, outcome: 'rejected', body: { message: ORG_WEBHOOK_OFF_MESSAGE } });
    expect(claims.held.size).toBe(0);
  });
});

describe('the one Status builder', () => {
  it('says Success under 400 and Failure from 400, and leaves out a reason it was not given', () => {
    expect(statusObject({ code: 202, message: 'ok' })).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      message: 'ok',
      code: 202,
    });
    expect(
      statusObject({ code: 422, reason: 'Invalid', message: 'bad', details: { causes: [] } }),
    ).toMatchObject({ status: 'Failure', reason: 'Invalid', code: 422, details: { causes: [] } });
  });
});

/** A store with one BuildConfig of https://github.com/team/app (branch main), indexed. */
async function orgSetUp(instantiateFails = 0) {
  const { deps, claims, started } = await setUp(instantiateFails);
  const stored = await deps.store.create(BUILD_CONFIG, {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name: 'app', namespace: 'team' },
    spec: {
      source: { type: 'Git', git: { uri: 'https://github.com/team/app.git', ref: 'main' } },
      strategy: { type: 'Docker' },
      triggers: [{ type: 'GitHub', github: { secret: 'unused-by-the-org-endpoint' } }],
    },
  });
  const index = new MemoryBuildConfigIndex();
  await index.upsert(stored);
  const intake = memoryPushIntake(claims, index);
  const deliver = async (body: string, id = randomUUID()) => {
    const headers: Record<string, string> = {
      'x-github-event': 'push',
      'x-github-delivery': id,
      'x-hub-signature-256': await new Webhooks({ secret: 'org-secret' }).sign(body),
      'content-type': 'application/json',
    };
    return deliverGitHubOrgHook(
      { receiver: createGitHubOrgReceiver({ secret: 'org-secret' }), intake },
      { method: 'POST', getHeader: (n) => headers[n.toLowerCase()], rawBody: Buffer.from(body) },
    );
  };
  return { deps, claims, started, stored, index, intake, deliver, routing: { ...deps, index } };
}

const repo = (name: string): string =>
  `"repository":{"full_name":"team/${name}","clone_url":"https://github.com/team/${name}.git","ssh_url":"git@github.com:team/${name}.git","git_url":"git://github.com/team/${name}.git"}`;
const pushTo = (name: string, ref = 'refs/heads/main'): string =>
  `{"ref":"${ref}","after":"${'b'.repeat(40)}",${repo(name)},"commits":[]}`;

describe('GitHub org/App delivery and its routing', () => {
  it('records a push a BuildConfig uses and answers naming it; routing starts its build', async () => {
    const { deliver, intake, routing, started } = await orgSetUp();
    const answer = await deliver(pushTo('app'));
    expect(answer).toMatchObject({
      status: 202,
      outcome: 'accepted',
      body: {
        kind: 'Status',
        code: 202,
        buildConfigs: ['team/app'],
        delivery: expect.stringMatching(/^github:/),
      },
    });
    expect(started).toEqual([]); // nothing built while answering
    expect(intake.recorded).toHaveLength(1);
    const routed = await routeQueuedPush(routing, intake.recorded[0]!);
    expect(routed).toEqual({ outcome: 'built', builds: ['team/app-1'], skipped: [] });
    expect(started[0]!.request.revision?.git?.commit).toBe('b'.repeat(40));
  });

  it('hands instantiate the BuildConfig routing read, so it is not read again', async () => {
    const { deliver, intake, routing, stored } = await orgSetUp();
    await deliver(pushTo('app'));
    const handed: (Resource | undefined)[] = [];
    await routeQueuedPush(
      {
        ...routing,
        instantiate: async (ns, name, _request, current) => {
          handed.push(current);
          return {
            apiVersion: 'build.openshift.io/v1',
            kind: 'Build',
            metadata: { name: `${name}-1`, namespace: ns },
          };
        },
      },
      intake.recorded[0]!,
    );
    expect(handed).toEqual([stored]);
  });

  it('routes a push twice without building twice, and retries only what failed to start', async () => {
    const { deliver, intake, routing, claims, started } = await orgSetUp(1);
    await deliver(pushTo('app'));
    const entry = intake.recorded[0]!;
    // The queue is down: the entry is to be routed again, its build's claim given back.
    const failed = await routeQueuedPush(routing, entry);
    expect(failed).toMatchObject({
      outcome: 'retry',
      builds: [],
      message: expect.stringContaining('the build queue is not answering'),
    });
    expect([...claims.held].filter((c) => c.includes(':team/app'))).toEqual([]);
    expect(await routeQueuedPush(routing, entry)).toMatchObject({ outcome: 'built', builds: ['team/app-1'] });
    // A worker that died after starting it routes it once more: nothing new.
    expect(await routeQueuedPush(routing, entry)).toEqual({
      outcome: 'ignored',
      builds: [],
      skipped: [{ buildConfig: 'team/app', reason: 'already built for this delivery' }],
    });
    expect(started).toHaveLength(1);
  });

  it('says why a BuildConfig that uses the repository does not build', async () => {
    const { deliver, intake, routing, started } = await orgSetUp();
    const answer = await deliver(pushTo('app', 'refs/heads/feature'));
    expect(answer).toMatchObject({ status: 202, body: { buildConfigs: ['team/app'] } });
    expect(await routeQueuedPush(routing, intake.recorded[0]!)).toEqual({
      outcome: 'ignored',
      builds: [],
      skipped: [{ buildConfig: 'team/app', reason: 'skipping build: branch feature does not match main' }],
    });
    expect(started).toEqual([]);
  });
});

describe('pushes read from their repository URLs before their payload', () => {
  const require = createRequire(import.meta.url);
  const groups = require('@octokit/webhooks-examples') as { name: string; examples: Record<string, any>[] }[];
  const pushes = groups.find((g) => g.name === 'push')!.examples;

  it('reads the repository every GitHub push example names, compact or indented', () => {
    expect(pushes.length).toBeGreaterThan(3);
    for (const example of pushes) {
      const parsed = parseGitHubPush(example);
      if (!parsed.ok) throw new Error(parsed.reply.message);
      for (const text of [JSON.stringify(example), JSON.stringify(example, null, 2)]) {
        const hint = githubRepositoryHint(Buffer.from(text));
        expect(hint).toEqual([
          example.repository.clone_url,
          example.repository.ssh_url,
          example.repository.git_url,
        ]);
        expect(new Set(repositoryKeys(hint!))).toEqual(new Set(repositoryKeys(parsed.value.push.repoUrls)));
      }
    }
  });

  it('reads nothing from a payload it cannot read plainly: the payload is then parsed', () => {
    const push = pushes[0]!;
    const text = JSON.stringify(push);
    const read = (s: string): string[] | undefined => githubRepositoryHint(Buffer.from(s));
    // A second repository-like object: which is the pushed one is not for the bytes to say.
    expect(
      read(JSON.stringify({ ...push, fork: { clone_url: 'https://github.com/x/y.git' } })),
    ).toBeUndefined();
    // A key spelled with an escape, a value with one, an empty value, a missing key.
    expect(read(text.replace('"ssh_url"', '"ssh\\u005furl"'))).toBeUndefined();
    expect(read(text.replace(push.repository.git_url, 'git://github.com/a\\"b'))).toBeUndefined();
    expect(read(text.replace(`"${push.repository.clone_url}"`, '""'))).toBeUndefined();
    expect(read(text.replace('"git_url"', '"gitx_url"'))).toBeUndefined();
    expect(read('"clone_url"')).toBeUndefined();
    expect(read('')).toBeUndefined();
    // Quoted inside a string, a key is escaped: it is not taken for the repository's.
    const decoy = JSON.stringify({
      ...push,
      head_commit: { ...push.head_commit, message: 'see "clone_url": "https://github.com/x/y.git"' },
    });
    expect(read(decoy)?.[0]).toBe(push.repository.clone_url);
  });

  it('answers a push no BuildConfig uses from its URLs, and refuses a broken one a BuildConfig uses at once', async () => {
    const { deliver, intake, started } = await orgSetUp();
    // Signed, but not a valid push (no valid commit, trailing garbage).
    const broken = (name: string): string => `{"ref":"refs/heads/main",${repo(name)},"after":"zz"}}`;
    expect(await deliver(broken('other'))).toMatchObject({
      status: 202,
      outcome: 'ignored',
      body: {
        message: expect.stringContaining('https://github.com/team/other.git starts no build'),
        buildConfigs: [],
      },
    });
    expect(intake.recorded).toEqual([]);
    // A BuildConfig uses it: read whole, refused with the parser's words, nothing claimed
    // (the same delivery again is refused again, not taken for a duplicate).
    const id = randomUUID();
    for (let i = 0; i < 2; i++)
      expect(await deliver(broken('app'), id)).toMatchObject({
        status: 400,
        outcome: 'rejected',
        body: { message: expect.stringContaining('not valid JSON') },
      });
    expect(intake.recorded).toEqual([]);
    expect(started).toEqual([]);
  });

  it('routes what the inbox holds: a record, a payload recorded before records were, and refuses a damaged one', async () => {
    const { deliver, intake, routing, started } = await orgSetUp();
    expect(await deliver(pushTo('app'))).toMatchObject({ status: 202, outcome: 'accepted' });
    const { record } = intake.recorded[0]!;
    // The record is what routing needs of the payload, not the payload.
    expect(Object.keys(JSON.parse(record.toString()) as object).sort()).toEqual([
      'after',
      'push',
      'repository',
    ]);
    expect(JSON.parse(record.toString())).toMatchObject({
      repository: 'team/app',
      push: { source: 'github', refs: [{ ref: 'refs/heads/main' }] },
    });
    expect(await routeQueuedPush(routing, { deliveryId: 'github:r1', record })).toMatchObject({
      outcome: 'built',
    });
    expect(
      await routeQueuedPush(routing, { deliveryId: 'github:p1', payload: Buffer.from(pushTo('app')) }),
    ).toMatchObject({ outcome: 'built' });
    expect(started).toHaveLength(2);
    for (const damaged of ['{"push":', '{"push":{"repoUrls":["x"],"refs":[]}}', '{"repository":"team/app"}'])
      expect(
        await routeQueuedPush(routing, { deliveryId: 'github:d1', record: Buffer.from(damaged) }),
      ).toMatchObject({
        outcome: 'rejected',
        builds: [],
        message: expect.stringContaining("inbox entry's record"),
      });
    expect(await routeQueuedPush(routing, { deliveryId: 'github:e1' })).toMatchObject({
      outcome: 'rejected',
      message: 'the inbox entry holds no push',
    });
    expect(started).toHaveLength(2);
  });

  it('parses a payload whose URLs the bytes do not give plainly, and refuses it at once when broken', async () => {
    const { deliver, intake } = await orgSetUp();
    const escaped = pushTo('app').replace('"ssh_url"', '"ssh\\u005furl"');
    expect(await deliver(escaped)).toMatchObject({
      status: 202,
      outcome: 'accepted',
      body: { buildConfigs: ['team/app'] },
    });
    const broken = `{"ref":"refs/heads/main",${repo('app').replace('"git_url"', '"git\\u005furl"')},"after":"zz"}`;
    expect(await deliver(broken)).toMatchObject({ status: 400, outcome: 'rejected' });
    expect(intake.recorded).toHaveLength(1);
  });
});
