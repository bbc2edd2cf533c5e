/**
 * `slipway new-app` and `slipway expose` as a newcomer runs them, with the built bin
 * against a real Slipway (Redis, registry, Docker, the builder images registered in
 * `openshift` as `up` does, the deployments stage and the router): a Node.js app from a
 * git URL, a Python app from a directory whose git remote is that server, and a static
 * site from a directory with no git at all (uploaded as a Binary build). Each ends
 * answering through the router after `expose`; `status` shows each path; `set env`
 * rolls the Node.js app out again; bad input fails with a message.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { registerBuilderImages } from '../../src/registry/builder-streams.js';
import { startDeployments, startRouter, type DeploymentsHandle } from '../../src/runtime.js';
import type { RouterHandle } from '../../src/strategies/router.js';
import { cliRunner } from '../support/cli.js';
import { getViaRouter, removeNamespaceReplicas } from '../support/deploy.js';
import { freePort, startGitDaemon, waitFor, type GitServer } from '../support/stack.js';
import { startSlipway, type TestSlipway } from '../support/slipway.js';

const docker = new Docker();
const ns = `newapp-${randomUUID().slice(0, 8)}`;
const marker = randomUUID().slice(0, 8);
const PUBLIC_URL = 'https://slipway.example.com';
const dir = mkdtempSync(join(tmpdir(), 'slipway-new-app-'));

let s: TestSlipway;
let git: GitServer;
let deployments: DeploymentsHandle;
let router: RouterHandle;

const slipway = cliRunner(() => ({
  server: s.http.url,
  token: s.token,
  namespace: ns,
  credentials: join(dir, 'none.json'),
}));

const NODE_APP = {
  'package.json': JSON.stringify({
    name: 'hello-node',
    version: '1.0.0',
    private: true,
    scripts: { start: 'node server.js' },
  }),
  'server.js':
    "require('http').createServer((q, r) => r.end(`node ${process.env.GREETING || 'hello'} MARKER`)).listen(process.env.PORT || 8080);\n".replace(
      'MARKER',
      marker,
    ),
};
const PYTHON_APP = {
  // No dependencies: the build's pip install has nothing to fetch.
  'requirements.txt': '',
  'app.py': [
    'from http.server import BaseHTTPRequestHandler, HTTPServer',
    'class H(BaseHTTPRequestHandler):',
    '    def do_GET(self):',
    '        self.send_response(200)',
    '        self.end_headers()',
    `        self.wfile.write(b"python ${marker}")`,
    'HTTPServer(("0.0.0.0", 8080), H).serve_forever()',
    '',
  ].join('\n'),
};

/** The app's default Route host, and what the router answers on it once it serves `expected`. */
async function servedThroughRouter(name: string, expected: string): Promise<string> {
  const host = `${name}-${ns}.localhost`;
  return waitFor(
    `${name} through the router`,
    async () => {
      const res = await getViaRouter(router.url, host);
      return res.status === 200 && res.body.includes(expected) ? res.body : undefined;
    },
    300000,
    500,
  );
}

beforeAll(async () => {
  const routerPort = await freePort();
  s = await startSlipway({
    workers: 2,
    config: {
      routerListen: `127.0.0.1:${routerPort}`,
      trustedCA: '/etc/ssl/certs/ca-certificates.crt',
      // Webhook URLs are printed on the URL the server says it is reached on.
      publicUrl: PUBLIC_URL,
    },
  });
  git = await startGitDaemon();
  deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
  router = await startRouter(s.rt);
  const registered = await registerBuilderImages({
    docker: s.rt.docker,
    store: s.rt.store,
    registry: s.registry.host,
    log: () => undefined,
  });
  expect(registered).toEqual([
    'openshift/nodejs:latest',
    'openshift/python:latest',
    'openshift/static:latest',
  ]);
  git.commit('hello-node', NODE_APP);
  git.commit('pyapp', PYTHON_APP);
  // A checkout whose origin is the git server: new-app builds from the remote.
  execFileSync('git', ['clone', '-q', git.url('pyapp'), join(dir, 'pyapp')]);
  // A plain directory, no git: new-app uploads it.
  mkdirSync(join(dir, 'site'));
  writeFileSync(join(dir, 'site', 'index.html'), `<h1>static ${marker}</h1>\n`);
}, 420000);

afterAll(async () => {
  await deployments?.close();
  await router?.close();
  await s?.stop();
  await git?.stop();
  await removeNamespaceReplicas(docker, ns);
  rmSync(dir, { recursive: true, force: true });
}, 120000);

test('new-app on a Node.js git URL, a Python checkout and a static directory; each answers through the router after expose; status shows each path', async () => {
  const [node, python, site] = await Promise.all([
    slipway(['new-app', git.url('hello-node')]),
    slipway(['new-app', join(dir, 'pyapp')]),
    slipway(['new-app', join(dir, 'site'), '--name', 'site']),
  ]);
  for (const r of [node, python, site]) {
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain("Run 'slipway status' to view your app.");
  }
  expect(node.stdout).toContain(`--> Found a nodejs app in ${git.url('hello-node')} (package.json → nodejs)`);
  expect(node.stdout).toContain('Builder image stream: openshift/nodejs:latest');
  const created = node.stdout
    .split('\n')
    .filter((l) => l.endsWith(' created'))
    .map((l) => l.trim());
  expect(created).toEqual([
    'imagestream.image.openshift.io "hello-node" created',
    'secret "hello-node-github-webhook-secret" created',
    'secret "hello-node-generic-webhook-secret" created',
    'buildconfig.build.openshift.io "hello-node" created',
    'deploymentconfig.apps.openshift.io "hello-node" created',
    'service "hello-node" created',
  ]);
  expect(python.stdout).toContain('(requirements.txt → python)');
  expect(python.stdout).toContain(
    `building from ${join(dir, 'pyapp')}'s git remote "origin" (${git.url('pyapp')}, branch main)`,
  );
  expect(site.stdout).toContain('(index.html → static)');
  expect(site.stdout).toMatch(/Uploaded .*site \(\d+ bytes\): build\.build\.openshift\.io\/site-1 started/);

  // The printed webhook URLs carry the secrets kept in the Secrets, and not in the BuildConfig.
  const printed: string[] = [];
  for (const [type, label] of [
    ['github', 'GitHub: '],
    ['generic', 'Generic:'],
  ] as const) {
    const url = new RegExp(`${label} (\\S+)`).exec(node.stdout)![1]!;
    const m = new RegExp(
      `^${PUBLIC_URL}/apis/build.openshift.io/v1/namespaces/${ns}/buildconfigs/hello-node/webhooks/([A-Za-z0-9_-]{27})/${type}$`,
    ).exec(url);
    expect(m).not.toBeNull();
    const secret = await s.apiJson<{ data: Record<string, string> }>(
      'GET',
      `/api/v1/namespaces/${ns}/secrets/hello-node-${type}-webhook-secret`,
    );
    expect(Buffer.from(secret.data.WebHookSecretKey!, 'base64').toString()).toBe(m![1]);
    printed.push(m![1]!);
  }
  const bc = await s.apiJson('GET', `/apis/build.openshift.io/v1/namespaces/${ns}/buildconfigs/hello-node`);
  for (const secret of printed) expect(JSON.stringify(bc)).not.toContain(secret);

  for (const name of ['hello-node', 'pyapp', 'site']) {
    const exposed = await slipway(['expose', `svc/${name}`]);
    expect([exposed.code, exposed.stderr]).toEqual([0, '']);
    expect(exposed.stdout.split('\n').slice(0, 2)).toEqual([
      `route.route.openshift.io/${name} exposed`,
      `  http://${name}-${ns}.localhost:${new URL(router.url).port}/`,
    ]);
  }
  await router.refresh();
  expect(await servedThroughRouter('hello-node', marker)).toBe(`node hello ${marker}`);
  expect(await servedThroughRouter('pyapp', marker)).toBe(`python ${marker}`);
  expect(await servedThroughRouter('site', marker)).toBe(`<h1>static ${marker}</h1>`);

  const status = await waitFor(
    'status to show three apps with nothing failing',
    async () => {
      const r = await slipway(['status']);
      return r.code === 0 && r.stdout.includes('3 app(s), nothing failing.') ? r.stdout : undefined;
    },
    30000,
    1000,
  );
  const commit = execFileSync('git', ['--git-dir', join(git.root, 'hello-node.git'), 'rev-parse', 'HEAD'], {
    encoding: 'utf8',
  }).trim();
  const routerPort = new URL(router.url).port;
  expect(status).toMatch(
    new RegExp(
      `^hello-node: ${git.url('hello-node')}@${commit.slice(0, 7)} → build hello-node-1 Complete → hello-node:latest@sha256:[0-9a-f]{12} → dc/hello-node revision 1 \\(1/1 ready\\) → http://hello-node-${ns}.localhost:${routerPort}/$`,
      'm',
    ),
  );
  expect(status).toMatch(
    new RegExp(`^site: uploaded source → build site-1 Complete → site:latest@sha256:`, 'm'),
  );
}, 420000);

test('set env rolls the app out with the new environment; scale and set triggers change the DeploymentConfig', async () => {
  const env = await slipway(['set', 'env', 'dc/hello-node', 'GREETING=bonjour']);
  expect([env.code, env.stdout.trim()]).toEqual([0, 'deploymentconfig.apps.openshift.io/hello-node updated']);
  expect(await servedThroughRouter('hello-node', 'bonjour')).toBe(`node bonjour ${marker}`);
  const list = await slipway(['set', 'env', 'dc/hello-node', '--list']);
  expect(list.stdout.trim().split('\n')).toEqual([
    '# deploymentconfigs/hello-node, container hello-node',
    'GREETING=bonjour',
  ]);

  const scaled = await slipway(['scale', 'dc/hello-node', '--replicas=2']);
  expect([scaled.code, scaled.stdout.trim()]).toEqual([
    0,
    'deploymentconfig.apps.openshift.io/hello-node scaled',
  ]);
  const dc = await s.apiJson<any>(
    'GET',
    `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs/hello-node`,
  );
  expect(dc.spec.replicas).toBe(2);

  const manual = await slipway(['set', 'triggers', 'dc/hello-node', '--manual']);
  expect(manual.code).toBe(0);
  expect(manual.stdout.trim().split('\n').slice(-1)[0]).toMatch(
    /^image\s+hello-node:latest \(hello-node\)\s+false$/,
  );
  const bcTriggers = await slipway(['set', 'triggers', 'bc/hello-node', '--from-github', '--remove']);
  expect(bcTriggers.code).toBe(0);
  expect(bcTriggers.stdout).not.toMatch(/^github/m);
}, 300000);

test('bad input fails with a message and a non-zero exit, creating nothing', async () => {
  const cases: [string[], RegExp][] = [
    [['new-app', join(dir, 'missing')], /is neither a directory nor a git URL/],
    [['new-app', 'ext::sh -c id'], /is neither a directory nor a git URL/],
    [['new-app', git.url('hello-node'), '--name', 'Bad_Name'], /--name "Bad_Name" must start with a letter/],
    [['new-app', git.url('hello-node')], /"hello-node" already exist.*pick another --name/],
    [
      ['new-app', join(dir, 'site'), '--strategy', 'docker', '--name', 'site2'],
      /--strategy docker needs a Dockerfile/,
    ],
    [
      ['new-app', join(dir, 'site'), '--image-stream', 'nope', '--name', 'site2'],
      /--image-stream "nope" is not/,
    ],
    [['expose', 'dc/hello-node'], /is not svc\/NAME/],
    [['expose', 'svc/missing'], /services "missing" not found/],
    [['expose', 'svc/site'], /routes.route.openshift.io "site" already exists/],
    [['scale', 'dc/hello-node', '--replicas=many'], /not a whole number/],
    [['set', 'env', 'dc/hello-node', 'NOEQUALS'], /neither NAME=VALUE/],
    [['set', 'triggers', 'dc/hello-node', '--auto', '--manual'], /cannot go together/],
  ];
  const runs = await Promise.all(cases.map(([args]) => slipway(args)));
  runs.forEach((r, i) => {
    expect([cases[i]![0].join(' '), r.code]).toEqual([cases[i]![0].join(' '), 1]);
    expect(r.stderr).toMatch(cases[i]![1]);
  });
  const bcs = await s.apiJson<{ items: unknown[] }>(
    'GET',
    `/apis/build.openshift.io/v1/namespaces/${ns}/buildconfigs`,
  );
  expect(bcs.items).toHaveLength(3);
}, 60000);
