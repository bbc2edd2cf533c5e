/**
 * The dashboard as two users with roles, in headless Chromium (Debian's, driven by
 * playwright-core), against a real server and Redis. alice is `edit` in project 1; bob
 * is `view` in project 1 and `admin` in project 2. Each sees only their projects, each
 * button their role forbids is disabled and, forced, shows the server's 403 as text;
 * another team's project shows the refusal and none of its objects, and its event
 * stream and logs are refused by the server itself, not only by the page.
 */
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, screenshot, signIn } from '../support/browser.js';
import { BC_PATH, BUILD_PATH, binding, startSlipway, type TestSlipway } from '../support/slipway.js';

const run = randomUUID().slice(0, 6);
const p1 = `shop-${run}`;
const p2 = `ledger-${run}`;
// Values only project 2's objects and project 1's Secret carry: finding one on a page is a leak.
const P2_URI = `https://example.com/ledger-${run}.git`;
const SECRET_VALUE = `hunter2-${run}`;
const tokens: Record<string, string> = {};

const DC_PATH = (ns: string, name = '') =>
  `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;
const EVENTS = (ns: string) => `/apis/slipway.dev/v1/namespaces/${ns}/events`;
const SECRETS = (ns: string) => `/api/v1/namespaces/${ns}/secrets`;
const SSAR = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';
const ui = (ns: string, ...parts: string[]) => [`/ui/namespaces/${ns}`, ...parts].join('/');

let s: TestSlipway;
let browser: Browser;

function as(user: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${s.http.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${tokens[user]}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function ok(user: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await as(user, method, path, body);
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} as ${user}: ${res.status} ${text}`);
  return JSON.parse(text) as unknown;
}

function buildConfig(name: string, uri: string): Record<string, unknown> {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name },
    spec: {
      source: { type: 'Git', git: { uri } },
      strategy: { type: 'Docker', dockerStrategy: {} },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
    },
  };
}

function deploymentConfig(name: string): Record<string, unknown> {
  return {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { app: name },
      triggers: [],
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name, image: `127.0.0.1:5000/${name}:latest` }] },
      },
    },
  };
}

const instantiate = (name: string) => ({
  kind: 'BuildRequest',
  apiVersion: 'build.openshift.io/v1',
  metadata: { name },
});

beforeAll(async () => {
  s = await startSlipway({ workers: 0 });
  tokens.admin = s.token;
  for (const user of ['alice', 'bob']) {
    await ok('admin', 'POST', '/apis/user.openshift.io/v1/users', { metadata: { name: user } });
    const issued = (await ok('admin', 'POST', `/apis/slipway.dev/v1/users/${user}/tokens`, {
      expiresInSeconds: 3600,
    })) as { token: string };
    tokens[user] = issued.token;
  }
  for (const project of [p1, p2])
    await ok('admin', 'POST', '/apis/project.openshift.io/v1/projectrequests', {
      metadata: { name: project },
    });
  const RB = (ns: string) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`;
  await ok('admin', 'POST', RB(p1), binding('edit', 'alice'));
  await ok('admin', 'POST', RB(p1), binding('view', 'bob'));
  await ok('admin', 'POST', RB(p2), binding('admin', 'bob'));
  await ok('admin', 'POST', BC_PATH(p1), buildConfig('front', 'https://example.com/front.git'));
  await ok('admin', 'POST', DC_PATH(p1), deploymentConfig('front'));
  await ok('admin', 'POST', BC_PATH(p2), buildConfig('ledger', P2_URI));
  await ok('admin', 'POST', DC_PATH(p2), deploymentConfig('ledger'));
  // No worker runs: the builds stay New, which is all the pages need.
  await ok('admin', 'POST', `${BC_PATH(p1, 'front')}/instantiate`, instantiate('front'));
  await ok('admin', 'POST', `${BC_PATH(p2, 'ledger')}/instantiate`, instantiate('ledger'));
  await ok('admin', 'POST', SECRETS(p1), {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'db' },
    stringData: { password: SECRET_VALUE },
  });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, 60_000);

interface Signed {
  context: BrowserContext;
  page: Page;
  /** Script errors and answers of 500 or more, which no page may cause. */
  errors: string[];
}

/** A fresh browser session (its own sessionStorage) signed in with `user`'s token. */
async function signedIn(user: string): Promise<Signed> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('response', (r) => {
    if (r.status() >= 500) errors.push(`${r.status()} ${r.url()}`);
  });
  await page.goto(`${s.http.url}/ui`);
  await signIn(page, tokens[user]!);
  return { context, page, errors };
}

const projectsShown = (page: Page): Promise<string[]> =>
  page.$$eval('#project-list li', (items) => items.map((li) => (li as any).dataset.project as string));

const bodyText = (page: Page): Promise<string> =>
  page.evaluate(() => (globalThis as any).document.body.innerText);

/** Fetches `path` from inside the page with the token it signed in with: what a user could force. */
function fetchInPage(page: Page, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return page.evaluate(
    async ([p, m]) => {
      const g = globalThis as any;
      const res = await g.fetch(p, {
        method: m,
        headers: {
          authorization: `Bearer ${g.sessionStorage.getItem('slipwayToken')}`,
          'content-type': 'application/json',
        },
        ...(m === 'GET' ? {} : { body: '{}' }),
      });
      return { status: res.status as number, body: (await res.text()) as string };
    },
    [path, method] as const,
  );
}

/** Opens a namespace page by its address and waits until its objects are listed. */
async function open(page: Page, path: string, loaded: string): Promise<void> {
  await page.goto(`${s.http.url}${path}`);
  await page.waitForSelector(loaded, { timeout: 20_000 });
}

async function builds(ns: string): Promise<string[]> {
  const list = (await ok('admin', 'GET', BUILD_PATH(ns))) as { items: { metadata: { name: string } }[] };
  return list.items.map((b) => b.metadata.name).sort();
}

test('edit in one project: sees that project only, starts a build, and the other project is refused without its data', async () => {
  const { context, page, errors } = await signedIn('alice');
  try {
    await page.waitForSelector('#project-list');
    expect(await projectsShown(page)).toEqual([p1]);
    expect(await page.$$eval('#projects option', (o) => o.map((x) => (x as any).value as string))).toEqual([
      p1,
    ]);
    await screenshot(page, 'roles-alice-projects');

    await page.click(`#project-list [data-project="${p1}"] a`);
    await page.waitForSelector('[data-app="front"]');

    await open(page, ui(p1, 'buildconfigs', 'front'), '[data-field="source"]');
    expect(await page.isEnabled('#start-build')).toBe(true);
    await page.click('#start-build');
    await page.waitForFunction(
      () =>
        /Start build: started front-2/.test(
          (globalThis as any).document.querySelector('#notice').textContent,
        ),
      undefined,
      { timeout: 20_000 },
    );
    expect(await builds(p1)).toEqual(['front-1', 'front-2']);

    // Another team's project, typed by hand: the server's refusal, none of its objects.
    await open(page, ui(p2), '#refused');
    const refusal = await page.textContent('#refused');
    expect(refusal).toContain(`User "alice" cannot list resource "events"`);
    expect(refusal).toContain(`in the namespace "${p2}"`);
    expect(await page.textContent('#live')).toContain('no access');
    await screenshot(page, 'roles-alice-refused');
    await open(page, ui(p2, 'buildconfigs', 'ledger'), '#refused');
    await open(page, ui(p2, 'builds', 'ledger-1', 'log'), '#refused');
    await page.waitForSelector('#log .error');
    expect(await page.textContent('#log')).toContain(`User "alice" cannot get resource "builds/log"`);
    const text = await bodyText(page);
    expect(text).not.toContain(P2_URI);
    expect(text).not.toMatch(/Docker|ImageStreamTag|ledger:latest/);

    // What the page would ask, forced from inside it with alice's token, is refused too.
    const stream = await fetchInPage(page, EVENTS(p2));
    expect(stream.status).toBe(403);
    expect(JSON.parse(stream.body)).toMatchObject({ kind: 'Status', code: 403, reason: 'Forbidden' });
    const started = await fetchInPage(page, `${BC_PATH(p2, 'ledger')}/instantiate`, 'POST');
    expect(started.status).toBe(403);
    expect(started.body).not.toContain(P2_URI);
    expect(await builds(p2)).toEqual(['ledger-1']);
    expect(errors).toEqual([]);
  } finally {
    await context.close();
  }
}, 60_000);

test('view in one project and admin in another: buttons follow the role, forced ones show the 403, Secrets stay unread', async () => {
  const { context, page, errors } = await signedIn('bob');
  try {
    await page.waitForSelector('#project-list');
    expect(await projectsShown(page)).toEqual([p1, p2].sort());

    // view in project 1: reads everything shown, starts nothing.
    await open(page, ui(p1), '[data-app="front"]');
    await page.waitForFunction(() =>
      (globalThis as any).document.querySelector('#live')?.textContent.includes('live'),
    );
    await open(page, ui(p1, 'buildconfigs', 'front'), '[data-field="source"]');
    await page.waitForSelector('#start-build:disabled');
    expect(await page.getAttribute('#start-build', 'title')).toContain(`does not allow this`);
    await screenshot(page, 'roles-bob-view');
    // Forced (the disabled button enabled by hand): the server's 403 shows as a message.
    const before = await builds(p1);
    await page.$eval('#start-build', (b) => ((b as any).disabled = false));
    await page.click('#start-build');
    await page.waitForSelector('#notice.error');
    const notice = await page.textContent('#notice');
    expect(notice).toContain(
      `Start build: buildconfigs.build.openshift.io "front" is forbidden: User "bob" cannot create resource "buildconfigs/instantiate"`,
    );
    expect(notice).toContain(`in the namespace "${p1}"`);
    // and the button is disabled again, as its role offers it.
    await page.waitForSelector('#start-build:disabled');
    await screenshot(page, 'roles-bob-forced');
    expect(await builds(p1)).toEqual(before);

    await open(page, ui(p1, 'builds', 'front-1', 'log'), '[data-field="config"]');
    await page.waitForSelector('#cancel-build:disabled');
    await open(page, ui(p1, 'deploymentconfigs', 'front'), '[data-field="strategy"]');
    await page.waitForSelector('#rollout:disabled');
    expect(await page.isDisabled('#cancel')).toBe(true);

    // Secrets: not on any page, and refused when asked for with bob's token.
    const secrets = await fetchInPage(page, SECRETS(p1));
    expect(secrets.status).toBe(403);
    expect((JSON.parse(secrets.body) as { message: string }).message).toBe(
      `secrets is forbidden: User "bob" cannot list resource "secrets" in API group "" in the namespace "${p1}"`,
    );
    expect(secrets.body).not.toContain('"db"');
    expect(await bodyText(page)).not.toContain(SECRET_VALUE);

    // admin in project 2: the same pages work, and its buttons are offered.
    await open(page, ui(p2), '[data-app="ledger"]');
    await open(page, ui(p2, 'buildconfigs', 'ledger'), '[data-field="source"]');
    expect(await page.textContent('[data-field="source"]')).toContain(P2_URI);
    expect(await page.isEnabled('#start-build')).toBe(true);
    await open(page, ui(p2, 'deploymentconfigs', 'ledger'), '[data-field="strategy"]');
    expect(await page.isEnabled('#rollout')).toBe(true);
    expect(await page.$('#refused')).toBeNull();
    expect(errors).toEqual([]);
  } finally {
    await context.close();
  }
}, 60_000);

test('the server refuses another project’s event stream and logs to a user token, and answers access reviews', async () => {
  const refused = async (user: string, path: string): Promise<string> => {
    const res = await as(user, 'GET', path);
    const st = (await res.json()) as { kind: string; code: number; message: string };
    expect(res.status).toBe(403);
    expect(st).toMatchObject({ kind: 'Status', code: 403, reason: 'Forbidden' });
    return st.message;
  };
  expect(await refused('alice', EVENTS(p2))).toBe(
    `events.slipway.dev is forbidden: User "alice" cannot list resource "events" in API group "slipway.dev" in the namespace "${p2}"`,
  );
  expect(await refused('alice', `${BUILD_PATH(p2, 'ledger-1')}/log?follow=true`)).toContain(
    `User "alice" cannot get resource "builds/log" in API group "build.openshift.io" in the namespace "${p2}"`,
  );
  expect(await refused('alice', `${DC_PATH(p2, 'ledger')}/log?follow=true`)).toContain(
    `cannot get resource "deploymentconfigs/log"`,
  );
  // A project that does not exist is refused in the same words.
  expect(await refused('alice', EVENTS(`nowhere-${run}`))).toContain(`in the namespace "nowhere-${run}"`);

  // The same stream opens for a user with a role there: view is enough to watch.
  for (const [user, ns] of [
    ['bob', p1],
    ['bob', p2],
    ['alice', p1],
  ] as const) {
    const abort = new AbortController();
    const res = await fetch(`${s.http.url}${EVENTS(ns)}`, {
      headers: { authorization: `Bearer ${tokens[user]}` },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: SYNC')) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    abort.abort();
    expect(text).toContain('event: SYNC');
  }

  // The access reviews the page asks before offering a button.
  const review = async (user: string, ns: string, subresource: string) => {
    const res = (await ok(user, 'POST', SSAR, {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      spec: {
        resourceAttributes: {
          namespace: ns,
          verb: 'create',
          group: 'build.openshift.io',
          resource: 'buildconfigs',
          subresource,
        },
      },
    })) as { status: { allowed: boolean; reason?: string } };
    return res.status;
  };
  expect(await review('alice', p1, 'instantiate')).toEqual({ allowed: true });
  expect(await review('alice', p2, 'instantiate')).toMatchObject({ allowed: false, denied: true });
  expect((await review('bob', p1, 'instantiate')).reason).toContain(
    `User "bob" cannot create resource "buildconfigs/instantiate"`,
  );
  expect(await review('bob', p2, 'instantiate')).toEqual({ allowed: true });
  expect(await review('admin', p2, 'instantiate')).toEqual({ allowed: true });
  const bad = await as('alice', 'POST', SSAR, { spec: { resourceAttributes: { verb: 'launch' } } });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { message: string }).message).toContain('spec.resourceAttributes.verb');
}, 30_000);
