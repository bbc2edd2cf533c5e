/**
 * Values from webhook payloads and BuildRequests that try to become Dockerfile
 * instructions or git options. Each is refused (a 4xx, or a Failed build when it got
 * past the API some other way), and the canary it would have written never appears.
 * Real stack, real git repositories served as file:// (where `--upload-pack` would run
 * a command on the worker).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { BUILD_CONFIG } from '../../src/queue/instantiate.js';
import { BASE_IMAGE } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { githubHeaders, post } from '../support/webhooks.js';
import { canary, cleanupRepos, hostileRepo } from './repo-support.js';

let s: TestSlipway;
let repo: { url: string; commit: string };
const ns = `sec-${randomUUID().slice(0, 8)}`;
const SECRET = `s-${randomUUID()}`;

beforeAll(async () => {
  s = await startSlipway({ workers: 1, config: { allowFileSources: true } });
  repo = hostileRepo({ Dockerfile: `FROM ${BASE_IMAGE}\nCMD ["sh", "-c", "ls /"]\n` });
});
afterAll(async () => {
  await s?.stop();
  cleanupRepos();
});

const st = (b: Resource): Record<string, any> => (b.status ?? {}) as Record<string, any>;

function buildConfig(name: string, spec: Record<string, unknown> = {}): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { git: { uri: repo.url, ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: { noCache: true } },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
      triggers: [
        { type: 'Generic', generic: { secret: SECRET, allowEnv: true } },
        { type: 'GitHub', github: { secret: SECRET } },
        { type: 'GitLab', gitlab: { secret: SECRET } },
        { type: 'Bitbucket', bitbucket: { secret: SECRET } },
      ],
      ...spec,
    },
  };
}

async function buildsOf(bc: string): Promise<string[]> {
  const list = await s.apiJson<{ items: Resource[] }>('GET', BUILD_PATH(ns));
  return list.items.map((b) => b.metadata.name).filter((n) => n.startsWith(`${bc}-`));
}

function hook(bc: string, type: string): string {
  return `${s.http.url}${BC_PATH(ns, bc)}/webhooks/${SECRET}/${type}`;
}

const json = { 'content-type': 'application/json' };

/** Whether `path` exists inside `image` (run with no network); the image is removed afterwards. */
function existsInImage(image: string, path: string): boolean {
  try {
    execFileSync('docker', ['run', '--rm', '--network', 'none', '--entrypoint', 'test', image, '-e', path], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

describe('env names', () => {
  test('a generic webhook with allowEnv and an env name carrying a RUN line is refused with 400; no build starts', async () => {
    await s.apiJson('POST', BC_PATH(ns), buildConfig('envname'));
    const body = JSON.stringify({
      git: { uri: repo.url, ref: 'main' },
      env: [{ name: 'Z=1\nRUN echo X > /wh.txt\nENV Q', value: 'v' }],
    });
    const res = await post(hook('envname', 'generic'), body, json);
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('env[0].name "Z=1\\nRUN echo X > /wh.txt\\nENV Q"');
    expect(await buildsOf('envname')).toEqual([]);
  });

  test('an env value with newlines stays one ENV value: the RUN it carries never executes', async () => {
    await s.apiJson('POST', BC_PATH(ns), buildConfig('envvalue'));
    const body = JSON.stringify({
      git: { uri: repo.url, ref: 'main' },
      env: [{ name: 'GREETING', value: 'hi"\nRUN touch /wh.txt\nENV Q="x' }],
    });
    const res = await post(hook('envvalue', 'generic'), body, json);
    expect([res.status, res.body.kind]).toEqual([200, 'Build']);
    const build = await s.waitForBuild(ns, 'envvalue-1');
    expect([st(build).phase, st(build).message]).toEqual(['Complete', undefined]);
    const image = `${s.registry.host}/${ns}/envvalue@${st(build).output.to.imageDigest}`;
    try {
      expect(existsInImage(image, '/wh.txt')).toBe(false);
      const env = execFileSync('docker', ['image', 'inspect', '--format', '{{json .Config.Env}}', image], {
        encoding: 'utf8',
      });
      expect(env).toContain('GREETING=');
      expect(env).not.toMatch(/"Q=/);
    } finally {
      execFileSync('docker', ['rmi', '-f', image], { stdio: 'ignore' });
    }
  });

  test('a BuildConfig stored with such a name (past the API) fails ManageDockerfileFailed before the engine sees it', async () => {
    const bad = 'Z=1\nRUN touch /wh.txt\nENV Q';
    await s.rt.store.create(
      BUILD_CONFIG,
      buildConfig('storedenv', {
        strategy: { type: 'Docker', dockerStrategy: { env: [{ name: bad, value: '1' }] } },
      }),
    );
    await s.apiJson('POST', `${BC_PATH(ns, 'storedenv')}/instantiate`, { kind: 'BuildRequest' });
    const build = await s.waitForBuild(ns, 'storedenv-1');
    expect([st(build).phase, st(build).reason]).toEqual(['Failed', 'ManageDockerfileFailed']);
    expect(st(build).message).toContain('env name "Z=1\\nRUN touch /wh.txt\\nENV Q"');
    expect(st(build).output).toBeUndefined();
  });

  test('the API refuses bad env and build-arg names in a BuildConfig and in a BuildRequest', async () => {
    const res = await s.api(
      'POST',
      BC_PATH(ns),
      buildConfig('apienv', {
        strategy: {
          type: 'Docker',
          dockerStrategy: { buildArgs: [{ name: 'A B', value: '1' }], env: [{ name: '1X', value: '1' }] },
        },
      }),
    );
    expect(res.status).toBe(422);
    const status = (await res.json()) as { details: { causes: { field: string }[] } };
    expect(status.details.causes.map((c) => c.field).sort()).toEqual([
      'spec.strategy.dockerStrategy.buildArgs[0].name',
      'spec.strategy.dockerStrategy.env[0].name',
    ]);
    await s.apiJson('POST', BC_PATH(ns), buildConfig('reqenv'));
    const req = await s.api('POST', `${BC_PATH(ns, 'reqenv')}/instantiate`, {
      kind: 'BuildRequest',
      env: [{ name: 'X\nRUN id', value: '1' }],
    });
    expect([400, 422]).toContain(req.status);
    expect(await req.text()).toContain('env[0].name');
    expect(await buildsOf('reqenv')).toEqual([]);
  });
});

describe('commits and refs that look like git options', () => {
  test('GitHub: an "after" of --upload-pack=… is a 400 and runs nothing', async () => {
    const c = canary();
    await s.apiJson('POST', BC_PATH(ns), buildConfig('gh'));
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      after: `--upload-pack=touch ${c.path}`,
      head_commit: null,
      commits: [],
      repository: { clone_url: repo.url, full_name: 'x/y', default_branch: 'main' },
    });
    const res = await post(hook('gh', 'github'), body, await githubHeaders('push', body));
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('"after"');
    expect(res.body.message).toContain('must be a commit id of 7 to 40 hexadecimal digits');
    expect(await buildsOf('gh')).toEqual([]);
    expect(c.touched()).toBe(false);
  });

  test('GitLab: a ref of -oProxyCommand=… is a 400', async () => {
    const c = canary();
    await s.apiJson('POST', BC_PATH(ns), buildConfig('gl'));
    const body = JSON.stringify({
      object_kind: 'push',
      ref: `-oProxyCommand=touch ${c.path}`,
      checkout_sha: repo.commit,
      after: repo.commit,
      commits: [],
      project: { git_http_url: repo.url, default_branch: 'main' },
    });
    const res = await post(hook('gl', 'gitlab'), body, { ...json, 'x-gitlab-event': 'Push Hook' });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('must not start with "-"');
    expect(await buildsOf('gl')).toEqual([]);
    expect(c.touched()).toBe(false);
  });

  test('Bitbucket: a target hash of --upload-pack=… is a 400', async () => {
    const c = canary();
    await s.apiJson('POST', BC_PATH(ns), buildConfig('bb'));
    const body = JSON.stringify({
      push: {
        changes: [
          { new: { type: 'branch', name: 'main', target: { hash: `--upload-pack=touch ${c.path}` } } },
        ],
      },
      repository: { full_name: 'x/y' },
    });
    const res = await post(hook('bb', 'bitbucket'), body, { ...json, 'x-event-key': 'repo:push' });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('push.changes[].new.target.hash');
    expect(await buildsOf('bb')).toEqual([]);
    expect(c.touched()).toBe(false);
  });

  test('generic: a commit of --upload-pack=… and a ref of -oProxyCommand=… are each a 400', async () => {
    const c = canary();
    await s.apiJson('POST', BC_PATH(ns), buildConfig('gen'));
    for (const git of [
      { uri: repo.url, ref: 'main', commit: `--upload-pack=touch ${c.path}` },
      { uri: repo.url, ref: `-oProxyCommand=touch ${c.path}` },
      { uri: repo.url, refs: [{ ref: 'main', commit: `--upload-pack=touch ${c.path}` }] },
    ]) {
      const res = await post(hook('gen', 'generic'), JSON.stringify({ git }), json);
      expect([res.status, res.body.message]).toEqual([400, expect.stringMatching(/\.(commit|ref) "/)]);
    }
    expect(await buildsOf('gen')).toEqual([]);
    expect(c.touched()).toBe(false);
  });

  test('instantiate: a revision commit of --upload-pack=… is a 4xx', async () => {
    const c = canary();
    await s.apiJson('POST', BC_PATH(ns), buildConfig('inst'));
    const res = await s.api('POST', `${BC_PATH(ns, 'inst')}/instantiate`, {
      kind: 'BuildRequest',
      revision: { git: { commit: `--upload-pack=touch ${c.path}` } },
    });
    expect([400, 422]).toContain(res.status);
    expect(await res.text()).toContain('revision.git.commit');
    expect(await buildsOf('inst')).toEqual([]);
    expect(c.touched()).toBe(false);
  });

  test('a BuildConfig ref that starts with "-" is a 422 naming spec.source.git.ref', async () => {
    const res = await s.api(
      'POST',
      BC_PATH(ns),
      buildConfig('refopt', { source: { git: { uri: repo.url, ref: '-oProxyCommand=touch /tmp/x' } } }),
    );
    expect(res.status).toBe(422);
    const status = (await res.json()) as { details: { causes: { field: string; message: string }[] } };
    expect(status.details.causes).toMatchObject([
      { field: 'spec.source.git.ref', message: '"-oProxyCommand=touch /tmp/x" must not start with "-"' },
    ]);
  });

  test('a BuildConfig stored with an option for a ref (past the API) fails FetchSourceFailed before git runs', async () => {
    const c = canary();
    await s.rt.store.create(
      BUILD_CONFIG,
      buildConfig('storedref', { source: { git: { uri: repo.url, ref: `--upload-pack=touch ${c.path}` } } }),
    );
    await s.apiJson('POST', `${BC_PATH(ns, 'storedref')}/instantiate`, { kind: 'BuildRequest' });
    const build = await s.waitForBuild(ns, 'storedref-1');
    expect([st(build).phase, st(build).reason]).toEqual(['Failed', 'FetchSourceFailed']);
    expect(st(build).message).toContain(
      `spec.source.git.ref "--upload-pack=touch ${c.path}" must not start with "-"`,
    );
    const log = await (await s.api('GET', `${BUILD_PATH(ns, 'storedref-1')}/log`)).text();
    expect(log).toContain('refused before running git');
    expect(log).not.toContain('Cloning');
    expect(c.touched()).toBe(false);
  });
});
