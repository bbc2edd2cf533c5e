/**
 * Projects, users and roles on a real server and Redis: two teams, every role, through the
 * REST API and the built CLI. Each allowed action succeeds, each forbidden one is a 403
 * Status naming the verb, resource and project, and nothing of another team's project
 * shows in a refusal or a list.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { cliRunner, type CliRun } from '../support/cli.js';
import { binding, startSlipway, type TestSlipway } from '../support/slipway.js';

let s: TestSlipway;
const run = randomUUID().slice(0, 6);
const teamA = `team-a-${run}`;
const teamB = `team-b-${run}`;
const teamC = `team-c-${run}`;
const tokens: Record<string, string> = {};

const BC = (ns: string, name = '') =>
  `/apis/build.openshift.io/v1/namespaces/${ns}/buildconfigs${name ? `/${name}` : ''}`;
const SECRETS = (ns: string, name = '') => `/api/v1/namespaces/${ns}/secrets${name ? `/${name}` : ''}`;
const RB = (ns: string, name = '') =>
  `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings${name ? `/${name}` : ''}`;
const PROJECTS = '/apis/project.openshift.io/v1/projects';

function as(user: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${s.http.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${tokens[user] ?? user}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function status(user: string, method: string, path: string, body?: unknown): Promise<number> {
  const res = await as(user, method, path, body);
  await res.text();
  return res.status;
}

async function refusal(user: string, method: string, path: string, body?: unknown): Promise<string> {
  const res = await as(user, method, path, body);
  const st = (await res.json()) as { kind: string; code: number; reason: string; message: string };
  expect(res.status).toBe(403);
  expect(st).toMatchObject({ kind: 'Status', code: 403, reason: 'Forbidden' });
  return st.message;
}

function buildConfig(name: string): Record<string, unknown> {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name },
    spec: {
      source: { type: 'Git', git: { uri: 'https://example.com/app.git' } },
      strategy: { type: 'Docker', dockerStrategy: {} },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
    },
  };
}

const secret = (name: string): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name },
  stringData: { password: 'hunter2' },
});

/** The CLI as one user: each user keeps their own credentials and current project. */
const runners = new Map<string, ReturnType<typeof cliRunner>>();
function cli(token: string, args: string[]): Promise<CliRun> {
  if (!runners.has(token))
    runners.set(
      token,
      cliRunner(() => ({ server: s.http.url, token })),
    );
  return runners.get(token)!(args);
}

beforeAll(async () => {
  s = await startSlipway({ workers: 0 });
  tokens.admin = s.token;
  for (const user of ['alice', 'bob', 'carol', 'dave', 'erin']) {
    expect(
      await status('admin', 'POST', '/apis/user.openshift.io/v1/users', { metadata: { name: user } }),
    ).toBe(201);
    const res = await as('admin', 'POST', `/apis/slipway.dev/v1/users/${user}/tokens`, {
      expiresInSeconds: 3600,
    });
    expect(res.status).toBe(201);
    tokens[user] = ((await res.json()) as { token: string }).token;
  }
  // alice runs team A with carol (edit) and dave (view, an auditor); bob runs team B.
  expect(
    await status('alice', 'POST', '/apis/project.openshift.io/v1/projectrequests', {
      metadata: { name: teamA },
    }),
  ).toBe(201);
  expect(
    await status('bob', 'POST', '/apis/project.openshift.io/v1/projectrequests', {
      metadata: { name: teamB },
    }),
  ).toBe(201);
  expect(await status('alice', 'POST', RB(teamA), binding('edit', 'carol'))).toBe(201);
  expect(await status('alice', 'POST', RB(teamA), binding('view', 'dave'))).toBe(201);
  expect(await status('bob', 'POST', BC(teamB), buildConfig('launch-plan'))).toBe(201);
  expect(await status('bob', 'POST', SECRETS(teamB), secret('launch-codes'))).toBe(201);
}, 60000);

afterAll(async () => {
  await s?.stop();
});

test('each user sees only the projects they have a role in; whoami names them', async () => {
  const names = async (user: string): Promise<string[]> =>
    ((await (await as(user, 'GET', PROJECTS)).json()) as { items: { metadata: { name: string } }[] }).items
      .map((p) => p.metadata.name)
      .sort();
  expect(await names('alice')).toEqual([teamA]);
  expect(await names('carol')).toEqual([teamA]);
  expect(await names('dave')).toEqual([teamA]);
  expect(await names('bob')).toEqual([teamB]);
  expect(await names('erin')).toEqual([]);
  expect(await names('admin')).toEqual(expect.arrayContaining([teamA, teamB]));
  const me = (await (await as('carol', 'GET', '/apis/user.openshift.io/v1/users/~')).json()) as {
    metadata: { name: string };
  };
  expect(me.metadata.name).toBe('carol');
  expect(await status('alice', 'GET', `${PROJECTS}/${teamA}`)).toBe(200);
  await refusal('alice', 'GET', `${PROJECTS}/${teamB}`);
});

test('admin: everything in the project, RoleBindings included; nothing in another team’s', async () => {
  expect(await status('alice', 'POST', BC(teamA), buildConfig('web'))).toBe(201);
  expect(await status('alice', 'POST', SECRETS(teamA), secret('db'))).toBe(201);
  expect(await status('alice', 'GET', RB(teamA))).toBe(200);
  for (const [method, path, body] of [
    ['GET', BC(teamB), undefined],
    ['GET', BC(teamB, 'launch-plan'), undefined],
    ['GET', SECRETS(teamB, 'launch-codes'), undefined],
    ['POST', BC(teamB), buildConfig('mine')],
    ['DELETE', BC(teamB, 'launch-plan'), undefined],
    ['POST', RB(teamB), binding('admin', 'alice')],
    ['GET', `/apis/build.openshift.io/v1/namespaces/${teamB}/builds/launch-plan-1/log`, undefined],
    ['GET', `/apis/slipway.dev/v1/namespaces/${teamB}/events`, undefined],
  ] as const) {
    const message = await refusal('alice', method, path, body);
    expect(message).toContain('User "alice" cannot');
    expect(message).toContain(`in the namespace "${teamB}"`);
    expect(message).not.toContain('hunter2');
  }
  expect(await refusal('alice', 'GET', BC(teamB))).toBe(
    `buildconfigs.build.openshift.io is forbidden: User "alice" cannot list resource "buildconfigs" in API group "build.openshift.io" in the namespace "${teamB}"`,
  );
  // A project that does not exist is refused the same way: a 403 says nothing of what exists.
  expect(await refusal('alice', 'GET', BC(`nothing-${run}`))).toContain(`namespace "nothing-${run}"`);
  // bob's objects are untouched.
  expect(await status('bob', 'GET', BC(teamB, 'launch-plan'))).toBe(200);
});

test('edit: everything but RoleBindings', async () => {
  expect(await status('carol', 'POST', BC(teamA), buildConfig('api'))).toBe(201);
  expect(await status('carol', 'POST', SECRETS(teamA), secret('api-key'))).toBe(201);
  expect(await status('carol', 'GET', SECRETS(teamA, 'api-key'))).toBe(200);
  expect(await status('carol', 'DELETE', BC(teamA, 'api'))).toBe(200);
  const started = await as('carol', 'POST', `${BC(teamA, 'web')}/instantiate`, {
    kind: 'BuildRequest',
    apiVersion: 'build.openshift.io/v1',
    metadata: { name: 'web' },
  });
  expect(started.status).toBe(201);
  expect(await refusal('carol', 'POST', RB(teamA), binding('admin', 'carol'))).toContain(
    'cannot create resource "rolebindings"',
  );
  expect(await refusal('carol', 'GET', RB(teamA))).toContain('cannot list resource "rolebindings"');
  await refusal('carol', 'DELETE', `${PROJECTS}/${teamA}`);
});

test('view: reads without Secrets, and starts nothing', async () => {
  expect(await status('dave', 'GET', BC(teamA))).toBe(200);
  expect(await status('dave', 'GET', BC(teamA, 'web'))).toBe(200);
  expect(await status('dave', 'GET', `/apis/build.openshift.io/v1/namespaces/${teamA}/builds`)).toBe(200);
  expect(
    await status('dave', 'GET', `/apis/build.openshift.io/v1/namespaces/${teamA}/builds/web-1/log`),
  ).not.toBe(403);
  expect(await refusal('dave', 'GET', SECRETS(teamA))).toContain('cannot list resource "secrets"');
  expect(await refusal('dave', 'GET', SECRETS(teamA, 'db'))).toContain('cannot get resource "secrets"');
  expect(
    await refusal('dave', 'POST', `${BC(teamA, 'web')}/instantiate`, { metadata: { name: 'web' } }),
  ).toContain('cannot create resource "buildconfigs/instantiate"');
  await refusal('dave', 'POST', BC(teamA), buildConfig('nope'));
  await refusal('dave', 'PUT', BC(teamA, 'web'), buildConfig('web'));
  await refusal('dave', 'DELETE', BC(teamA, 'web'));
  await refusal('dave', 'GET', RB(teamA));
});

test('outside projects: users cannot manage users or tokens; a user with no role reaches nothing', async () => {
  await refusal('alice', 'GET', '/apis/user.openshift.io/v1/users');
  await refusal('alice', 'POST', '/apis/user.openshift.io/v1/users', { metadata: { name: 'mallory' } });
  await refusal('alice', 'POST', '/apis/slipway.dev/v1/users/bob/tokens', {});
  await refusal('erin', 'GET', BC(teamA));
  await refusal('erin', 'GET', `/apis/slipway.dev/v1/namespaces/${teamA}/deploytarget`);
});

test('bad input is a 4xx naming the field; a deleted user’s and an expired token stop working', async () => {
  const badUser = await as('admin', 'POST', '/apis/user.openshift.io/v1/users', {
    metadata: { name: 'bad name' },
  });
  expect(badUser.status).toBe(422);
  expect(
    await status('admin', 'POST', '/apis/user.openshift.io/v1/users', { metadata: { name: 'alice' } }),
  ).toBe(409);
  const badRole = await as('alice', 'POST', RB(teamA), {
    ...binding('view', 'erin'),
    roleRef: { kind: 'ClusterRole', name: 'cluster-admin' },
  });
  expect(badRole.status).toBe(422);
  expect(((await badRole.json()) as { message: string }).message).toContain('roleRef.name');
  const badExpiry = await as('admin', 'POST', '/apis/slipway.dev/v1/users/erin/tokens', {
    expiresInSeconds: 0,
  });
  expect(badExpiry.status).toBe(400);
  expect(((await badExpiry.json()) as { message: string }).message).toContain('expiresInSeconds');
  expect(
    await status('admin', 'POST', '/apis/project.openshift.io/v1/projectrequests', {
      metadata: { name: 'Bad_Name' },
    }),
  ).toBe(422);
  expect(
    await status('erin', 'POST', '/apis/project.openshift.io/v1/projectrequests', {
      metadata: { name: teamA },
    }),
  ).toBe(409);

  const short = await as('admin', 'POST', '/apis/slipway.dev/v1/users/erin/tokens', { expiresInSeconds: 1 });
  const shortToken = ((await short.json()) as { token: string }).token;
  expect(await status(shortToken, 'GET', PROJECTS)).toBe(200);
  await new Promise((r) => setTimeout(r, 2100));
  expect(await status(shortToken, 'GET', PROJECTS)).toBe(401);

  expect(await status('admin', 'DELETE', '/apis/user.openshift.io/v1/users/erin')).toBe(200);
  expect(await status('erin', 'GET', PROJECTS)).toBe(401);
});

test('the CLI: new-project, projects, policy add-role-to-user, whoami, and a refusal exits non-zero', async () => {
  const created = await cli(tokens.alice!, ['new-project', teamC, '--display-name', 'Team C']);
  expect(created.stderr).toBe('');
  expect(created.code).toBe(0);
  expect(created.stdout).toContain(`Now using project "${teamC}"`);
  const listed = await cli(tokens.alice!, ['projects']);
  expect(listed.stdout).toMatch(new RegExp(`\\*\\s+${teamC}\\s+Team C\\s+Active`));
  expect(listed.stdout).toContain(teamA);
  const granted = await cli(tokens.alice!, ['policy', 'add-role-to-user', 'view', 'dave']);
  expect(granted.code).toBe(0);
  expect(granted.stdout).toContain('clusterrole.rbac.authorization.k8s.io/view added: "dave"');
  expect((await cli(tokens.alice!, ['policy', 'add-role-to-user', 'view', 'dave'])).stdout).toContain(
    'already has',
  );
  expect((await cli(tokens.dave!, ['whoami'])).stdout.trim()).toBe('dave');
  const daveProjects = await cli(tokens.dave!, ['projects']);
  expect(daveProjects.stdout).toContain(teamC);
  expect(daveProjects.stdout).not.toContain(teamB);

  const refused = await cli(tokens.dave!, ['get', 'secrets', '-n', teamC]);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toContain('Error from server (403)');
  expect(refused.stderr).toContain('cannot list resource "secrets"');
  const badRole = await cli(tokens.alice!, ['policy', 'add-role-to-user', 'owner', 'dave']);
  expect(badRole.code).not.toBe(0);
  expect(badRole.stderr).toContain('role "owner" is not one of: admin, edit, view');
});

test('deleting a project deletes everything in it, and nothing of it is left in Redis', async () => {
  expect(await status('alice', 'POST', BC(teamC), buildConfig('site'))).toBe(201);
  expect(await status('alice', 'POST', SECRETS(teamC), secret('site-key'))).toBe(201);
  expect(await status('alice', 'DELETE', `${PROJECTS}/${teamC}`)).toBe(200);
  expect(await status('admin', 'GET', `${PROJECTS}/${teamC}`)).toBe(404);
  expect(await status('admin', 'GET', BC(teamC, 'site'))).toBe(404);
  expect(await status('admin', 'GET', SECRETS(teamC, 'site-key'))).toBe(404);
  expect(await status('admin', 'GET', RB(teamC))).toBe(200);
  expect(((await (await as('admin', 'GET', RB(teamC))).json()) as { items: unknown[] }).items).toEqual([]);
  // alice's role went with it.
  await refusal('alice', 'GET', BC(teamC));
  const redis = new Redis(s.redis.url);
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `*${teamC}*`, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    expect(keys).toEqual([]);
  } finally {
    redis.disconnect();
  }
});

test('a token whose scope is none of the three kinds may do nothing', async () => {
  for (const scope of ['user:', 'operator', 'deployer:']) {
    const token = `odd-${randomUUID()}`;
    await s.rt.tokens.add(token, scope, 60);
    expect(await status(token, 'GET', BC(teamA))).toBe(403);
    expect(await status(token, 'GET', '/apis/user.openshift.io/v1/users')).toBe(403);
  }
});
