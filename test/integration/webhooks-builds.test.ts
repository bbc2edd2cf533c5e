/**
 * What webhook builds do once queued, on the real stack: SerialLatestOnly under five
 * quick pushes, and the build's state posted back as GitHub commit statuses to a local
 * stand-in for GitHub Enterprise's REST API (GitHub itself cannot be reached here).
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { BASE_IMAGE, startGitDaemon, waitFor, type GitServer } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import {
  githubHeaders,
  post,
  pushPayload,
  startGitHubStandIn,
  type GitHubStandIn,
} from '../support/webhooks.js';

let s: TestSlipway;
let git: GitServer;
let github: GitHubStandIn;
const ns = `whb-${randomUUID().slice(0, 8)}`;
const SECRET = `s-${randomUUID()}`;
const TOKEN = `stand-in-token-${randomUUID()}`;
const PUBLIC_URL = 'http://slipway.example:8080';

beforeAll(async () => {
  github = await startGitHubStandIn();
  git = await startGitDaemon();
  s = await startSlipway({
    workers: 1,
    config: { githubToken: TOKEN, githubApiUrl: github.apiUrl, publicUrl: PUBLIC_URL, workerConcurrency: 2 },
  });
});
afterAll(async () => {
  await s?.stop();
  await git?.stop();
  await github?.stop();
});

const st = (b: Resource): Record<string, any> => (b.status ?? {}) as Record<string, any>;

function buildConfig(name: string, uri: string, extra: Record<string, unknown> = {}): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { git: { uri, ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: { noCache: true } },
      triggers: [{ type: 'GitHub', github: { secret: SECRET } }],
      ...extra,
    },
  };
}

async function push(bc: string, cloneUrl: string, after: string): Promise<Resource> {
  const body = JSON.stringify(pushPayload({ cloneUrl, ref: 'refs/heads/main', after }));
  const res = await post(
    `${s.http.url}${BC_PATH(ns, bc)}/webhooks/${SECRET}/github`,
    body,
    await githubHeaders('push', body),
  );
  if (res.status !== 200 || res.body.kind !== 'Build')
    throw new Error(`push to ${bc}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Resource;
}

test('SerialLatestOnly: of five quick pushes only the running build and the newest survive', async () => {
  const name = 'latest';
  const dockerfile = `FROM ${BASE_IMAGE}\nRUN sleep 4\n`;
  const first = git.commit(name, { Dockerfile: dockerfile, 'n.txt': '1' });
  await s.apiJson('POST', BC_PATH(ns), buildConfig(name, git.url(name), { runPolicy: 'SerialLatestOnly' }));
  await push(name, git.url(name), first);
  await s.waitForBuild(ns, `${name}-1`, ['Running'], 60000);

  const commits: string[] = [];
  for (let n = 2; n <= 5; n++) {
    commits.push(git.commit(name, { 'n.txt': String(n) }));
    await push(name, git.url(name), commits[commits.length - 1]!);
  }
  const newest = await s.waitForBuild(ns, `${name}-5`, undefined, 120000);
  const running = await s.apiJson('GET', BUILD_PATH(ns, `${name}-1`));
  expect(st(running).phase).toBe('Complete');
  expect(st(newest).phase).toBe('Complete');
  expect((newest.spec as any).revision.git.commit).toBe(commits[3]);
  // The newest waited for the running one: Serial order holds.
  expect(Date.parse(st(newest).startTimestamp)).toBeGreaterThanOrEqual(
    Date.parse(st(running).completionTimestamp),
  );
  for (const n of [2, 3, 4]) {
    const cancelled = await s.apiJson('GET', BUILD_PATH(ns, `${name}-${n}`));
    expect([cancelled.metadata.name, st(cancelled).phase, st(cancelled).reason]).toEqual([
      `${name}-${n}`,
      'Cancelled',
      'CancelledBuild',
    ]);
    expect(st(cancelled).message).toMatch(
      new RegExp(`${name}-\\d is newer \\(runPolicy SerialLatestOnly\\)`),
    );
    expect(st(cancelled).startTimestamp).toBeUndefined();
  }
});

describe('commit statuses, posted to a stand-in for GitHub Enterprise', () => {
  const statusesOf = (sha: string) => github.statuses.filter((x) => x.sha === sha);

  test('pending while queued and running, then success, with a link to the build log', async () => {
    const sha = github.commit('octo/app', { Dockerfile: `FROM ${BASE_IMAGE}\nRUN echo ok\n` });
    await s.apiJson('POST', BC_PATH(ns), buildConfig('app', github.url('octo/app')));
    await push('app', github.url('octo/app'), sha);
    expect(st(await s.waitForBuild(ns, 'app-1')).phase).toBe('Complete');
    await waitFor('the success status', async () => statusesOf(sha).some((x) => x.body.state === 'success'));
    const posted = statusesOf(sha);
    expect(posted.map((x) => [x.body.state, x.body.description])).toEqual([
      ['pending', 'Build queued: app-1'],
      ['pending', 'Build running: app-1'],
      ['success', 'Build succeeded: app-1'],
    ]);
    for (const x of posted) {
      expect(x).toMatchObject({ owner: 'octo', repo: 'app', authorization: `token ${TOKEN}` });
      expect(x.body.context).toBe(`slipway/${ns}/app`);
      expect(x.body.target_url).toBe(`${PUBLIC_URL}/ui/namespaces/${ns}/builds/app-1/log`);
    }
  });

  test('a failing build is reported as failure', async () => {
    const sha = github.commit('octo/broken', { Dockerfile: `FROM ${BASE_IMAGE}\nRUN exit 7\n` });
    await s.apiJson('POST', BC_PATH(ns), buildConfig('broken', github.url('octo/broken')));
    await push('broken', github.url('octo/broken'), sha);
    expect(st(await s.waitForBuild(ns, 'broken-1')).phase).toBe('Failed');
    await waitFor('the failure status', async () => statusesOf(sha).some((x) => x.body.state === 'failure'));
    expect(statusesOf(sha).map((x) => x.body.state)).toEqual(['pending', 'pending', 'failure']);
  });

  test('GitHub failing to take a status never fails the build', async () => {
    const sha = github.commit('octo/down', { Dockerfile: `FROM ${BASE_IMAGE}\n` });
    await s.apiJson('POST', BC_PATH(ns), buildConfig('down', github.url('octo/down')));
    github.failWith = 502;
    try {
      await push('down', github.url('octo/down'), sha);
      expect(st(await s.waitForBuild(ns, 'down-1')).phase).toBe('Complete');
      await waitFor(
        'three refused status posts',
        async () => github.refused.filter((x) => x === sha).length === 3,
      );
    } finally {
      github.failWith = undefined;
    }
    expect(statusesOf(sha)).toEqual([]);
  });
});
