/**
 * The `slipway` CLI as a user runs it (the built bin, a real server, real builds):
 * apply, get, describe, start-build --follow, logs, cancel-build, delete, and the exit
 * codes and messages of bad input.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE_IMAGE, startGitDaemon, type GitServer } from '../support/stack.js';
import { cliRunner } from '../support/cli.js';
import { BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

let s: TestSlipway;
let git: GitServer;
const ns = `cli-${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(join(tmpdir(), 'slipway-cli-'));

beforeAll(async () => {
  s = await startSlipway({ workers: 1 });
  git = await startGitDaemon();
});
afterAll(async () => {
  await s?.stop();
  await git?.stop();
});

const slipway = cliRunner(() => ({
  server: s.http.url,
  token: s.token,
  namespace: ns,
  credentials: join(dir, 'none.json'),
}));

function manifest(name: string, repo: string): string {
  return `apiVersion: v1
kind: Secret
metadata:
  name: ${name}-hook
stringData:
  WebHookSecretKey: hook-secret
---
apiVersion: image.openshift.io/v1
kind: ImageStream
metadata:
  name: ${name}
---
# OpenShift 3's legacy apiVersion for builds still applies.
apiVersion: v1
kind: BuildConfig
metadata:
  name: ${name}
  labels: { app: ${name} }
spec:
  source:
    git: { uri: "${git.url(repo)}", ref: main }
  strategy:
    type: Docker
    dockerStrategy: {}
  output:
    to: { kind: ImageStreamTag, name: "${name}:latest" }
`;
}

test('apply a multi-document file, get it back as a table and as JSON, describe it', async () => {
  git.commit('good', { Dockerfile: `FROM ${BASE_IMAGE}\nRUN echo built-by-cli\n` });
  const file = join(dir, 'good.yaml');
  writeFileSync(file, manifest('good', 'good'));
  const applied = await slipway(['apply', '-f', file]);
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  expect(applied.stdout.trim().split('\n')).toEqual([
    'secret.core/good-hook created',
    'imagestream.image.openshift.io/good created',
    'buildconfig.build.openshift.io/good created',
  ]);
  const again = await slipway(['apply', '-f', '-'], manifest('good', 'good'));
  expect(again.stdout).toContain('buildconfig.build.openshift.io/good configured');

  const table = await slipway(['get', 'bc']);
  expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+TYPE\s+FROM\s+LATEST$/);
  expect(table.stdout).toMatch(/good\s+Docker\s+Git\s+0/);
  const json = JSON.parse((await slipway(['get', 'bc/good', '-o', 'json'])).stdout) as {
    metadata: { labels: Record<string, string> };
  };
  expect(json.metadata.labels.app).toBe('good');
  expect((await slipway(['describe', 'bc', 'good'])).stdout).toContain('Name:\t\tgood');
});

test('start-build --follow prints the log as it happens and exits 0 on Complete; logs and get builds agree', async () => {
  const run = await slipway(['start-build', 'good', '--follow']);
  expect(run.code).toBe(0);
  expect(run.stdout).toContain('build.build.openshift.io/good-1 started');
  expect(run.stdout).toContain('built-by-cli');
  expect(run.stdout).toContain('Successfully pushed');
  const logs = await slipway(['logs', 'bc/good']);
  expect(logs.stdout).toContain('built-by-cli');
  const follow = await slipway(['logs', '-f', 'build/good-1']);
  expect(follow.code).toBe(0);
  const builds = await slipway(['get', 'builds']);
  expect(builds.stdout).toMatch(/good-1\s+Docker\s+Git@[0-9a-f]{7}\s+Complete/);
});

test('a failing build makes start-build --follow exit non-zero with the reason', async () => {
  git.commit('bad', { Dockerfile: `FROM ${BASE_IMAGE}\nRUN exit 7\n` });
  writeFileSync(join(dir, 'bad.yaml'), manifest('bad', 'bad'));
  expect((await slipway(['apply', '-f', join(dir, 'bad.yaml')])).code).toBe(0);
  const run = await slipway(['start-build', 'bad', '--follow']);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('error: build bad-1 ended Failed (DockerBuildFailed)');
  const logs = await slipway(['logs', '-f', 'build/bad-1']);
  expect(logs.code).toBe(1);
});

test('cancel-build cancels a running build', async () => {
  git.commit('slowcli', { Dockerfile: `FROM ${BASE_IMAGE}\nRUN sleep 60\n` });
  writeFileSync(join(dir, 'slow.yaml'), manifest('slowcli', 'slowcli'));
  await slipway(['apply', '-f', join(dir, 'slow.yaml')]);
  expect((await slipway(['start-build', 'slowcli'])).code).toBe(0);
  await s.waitForBuild(ns, 'slowcli-1', ['Running']);
  const cancel = await slipway(['cancel-build', 'slowcli-1']);
  expect(cancel.stdout).toContain('build.build.openshift.io/slowcli-1 cancelled');
  const build = await s.waitForBuild(ns, 'slowcli-1', ['Cancelled', 'Complete', 'Failed', 'Error'], 30000);
  expect((build.status as { phase: string }).phase).toBe('Cancelled');
});

test('bad input: an invalid resource names the field, an unknown kind is named, and the exit code is 1', async () => {
  const invalid = `apiVersion: build.openshift.io/v1\nkind: BuildConfig\nmetadata: { name: broken }\nspec:\n  source: { git: { uri: "ext::sh" } }\n  strategy: { type: Docker }\n`;
  const run = await slipway(['apply', '-f', '-'], invalid);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('spec.source.git.uri');
  const unknown = await slipway(
    ['apply', '-f', '-'],
    'apiVersion: v9\nkind: Gadget\nmetadata: { name: g }\n',
  );
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('no matches for kind "Gadget" in version "v9"');
  const notYaml = await slipway(['apply', '-f', '-'], 'a: [unclosed');
  expect(notYaml.code).toBe(1);
  const missing = await slipway(['get', 'bc/nope']);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('(404)');
  const wrongToken = cliRunner(() => ({ server: s.http.url, token: 'wrong' }));
  const badToken = await wrongToken(['get', 'bc']);
  expect(badToken.code).toBe(1);
  expect(badToken.stderr).toContain('(401)');
});

test('delete removes a BuildConfig and its builds', async () => {
  const del = await slipway(['delete', 'bc', 'good']);
  expect(del.stdout).toContain('buildconfig.build.openshift.io "good" deleted');
  expect((await s.api('GET', BUILD_PATH(ns, 'good-1'))).status).toBe(404);
});

test('start-build --from-dir uploads a directory to a Binary BuildConfig; instantiate without one is refused', async () => {
  const src = mkdtempSync(join(tmpdir(), 'slipway-bin-'));
  writeFileSync(
    join(src, 'Dockerfile'),
    `FROM ${BASE_IMAGE}\nCOPY message.txt /message.txt\nRUN cat /message.txt\n`,
  );
  const message = `uploaded-from-a-directory-${randomUUID()}`;
  writeFileSync(join(src, 'message.txt'), `${message}\n`);
  const bc = `apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata: { name: binary }
spec:
  source: { type: Binary, binary: {} }
  strategy: { type: Docker, dockerStrategy: {} }
  output: { to: { kind: ImageStreamTag, name: "binary:latest" } }
`;
  expect((await slipway(['apply', '-f', '-'], bc)).code).toBe(0);
  const refused = await slipway(['start-build', 'binary']);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('takes binary input');
  const run = await slipway(['start-build', 'binary', '--from-dir', src, '--follow']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout).toContain('Extracted binary input');
  expect(run.stdout).toContain(message);
  const build = await s.apiJson('GET', BUILD_PATH(ns, 'binary-1'));
  expect((build.spec as any).source.type).toBe('Binary');
});
