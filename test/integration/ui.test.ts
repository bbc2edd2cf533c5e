/**
 * The dashboard in headless Chromium (Debian's, driven by playwright-core), against a
 * whole Slipway: a real Redis, registry, Docker build worker, deployment controller and
 * local router. Two GitHub pushes of a tiny HTTP app travel on screen, without a reload,
 * from commit to build to image to the revision serving to the Route that answers; then
 * the DeploymentConfig page rolls back and out, the image stream shows its history, the
 * BuildConfig page copies its webhook URL, and every page is read on a phone-sized
 * viewport. Screenshots of each page are kept in test-output/ui/.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { Browser, Page } from 'playwright-core';
import { startDeployments, startRouter, type DeploymentsHandle } from '../../src/runtime.js';
import type { RouterHandle } from '../../src/strategies/router.js';
import { horizontalOverflow, launchChromium, screenshot, signIn } from '../support/browser.js';
import { getViaRouter, removeNamespaceReplicas } from '../support/deploy.js';
import { BASE_IMAGE, freePort, startGitDaemon, waitFor, type GitServer } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, IS_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { githubHeaders, post, pushPayload } from '../support/webhooks.js';

const docker = new Docker();
const ns = `ui-${randomUUID().slice(0, 8)}`;
const SECRET = `hook-${randomUUID().slice(0, 8)}`;
const SERVER_PL = readFileSync(join(process.cwd(), 'test/integration/deploy-fixtures/server.pl'), 'utf8');
// A commit message and author that try to become markup; the page must show them as text.
const HOSTILE = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> first push`;
const DC = (name = '') =>
  `/apis/apps.openshift.io/v1/namespaces/${ns}/deploymentconfigs${name ? `/${name}` : ''}`;
const ui = (...parts: string[]) => [`/ui/namespaces/${ns}`, ...parts].join('/');
const field = (name: string) => `[data-app="web"] [data-field="${name}"]`;

let s: TestSlipway;
let git: GitServer;
let browser: Browser;
let deployments: DeploymentsHandle;
let router: RouterHandle;
let routerPort: number;

beforeAll(async () => {
  routerPort = await freePort();
  s = await startSlipway({ workers: 1, config: { routerListen: `127.0.0.1:${routerPort}` } });
  deployments = await startDeployments(s.rt, { apiUrl: s.http.url, resyncMs: 2000 });
  router = await startRouter(s.rt);
  git = await startGitDaemon();
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await deployments?.close();
  await router?.close();
  await s?.stop();
  await git?.stop();
  await removeNamespaceReplicas(docker, ns);
  const prefix = `${s?.registry.host}/${ns}/`;
  const images = execFileSync('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}'], {
    encoding: 'utf8',
  });
  for (const image of images.split('\n').filter((i) => i.startsWith(prefix)))
    await docker
      .getImage(image)
      .remove({ force: true })
      .catch(() => undefined);
}, 120_000);

/** Waits until the element at `selector` shows `text`. */
async function waitForText(page: Page, selector: string, text: string, timeout = 60_000): Promise<void> {
  try {
    await page.waitForFunction(
      ([sel, t]) => (globalThis as any).document.querySelector(sel)?.textContent?.includes(t) === true,
      [selector, text] as const,
      { timeout },
    );
  } catch (err) {
    const shown = await page.textContent(selector).catch(() => null);
    throw new Error(`"${selector}" never showed "${text}"; it shows ${JSON.stringify(shown)}`, {
      cause: err,
    });
  }
}

function appFiles(version: string, extra = ''): Record<string, string> {
  return {
    'server.pl': SERVER_PL,
    Dockerfile: `FROM ${BASE_IMAGE}\nCOPY server.pl /server.pl\n${extra}ENV APP_VERSION=${version}\nEXPOSE 8080\nCMD ["perl", "/server.pl"]\n`,
  };
}

/** Commits and delivers GitHub's push webhook for it; returns the commit id. */
async function push(files: Record<string, string>, message: string): Promise<string> {
  const sha = git.commit('app', files, { message });
  const body = JSON.stringify(
    pushPayload({ cloneUrl: git.url('app'), ref: 'refs/heads/main', after: sha, message }),
  );
  const res = await post(
    `${s.http.url}${BC_PATH(ns, 'app')}/webhooks/${SECRET}/github`,
    body,
    await githubHeaders('push', body),
  );
  if (res.status !== 200) throw new Error(`push: ${res.status} ${JSON.stringify(res.body)}`);
  return sha;
}

async function applyApp(): Promise<void> {
  await s.apiJson('POST', BC_PATH(ns), {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name: 'app' },
    spec: {
      source: { git: { uri: git.url('app'), ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: {} },
      output: { to: { kind: 'ImageStreamTag', name: 'app:latest' } },
      triggers: [{ type: 'GitHub', github: { secret: SECRET } }],
    },
  });
  await s.apiJson('POST', DC(), {
    apiVersion: 'apps.openshift.io/v1',
    kind: 'DeploymentConfig',
    metadata: { name: 'web' },
    spec: {
      replicas: 1,
      selector: { app: 'web' },
      strategy: {
        type: 'Rolling',
        rollingParams: { updatePeriodSeconds: 1, intervalSeconds: 1, timeoutSeconds: 60 },
      },
      triggers: [
        { type: 'ConfigChange' },
        {
          type: 'ImageChange',
          imageChangeParams: {
            automatic: true,
            containerNames: ['web'],
            from: { kind: 'ImageStreamTag', name: 'app:latest' },
          },
        },
      ],
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'web',
              image: ' ',
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: {
                httpGet: { path: '/healthz', port: 'http' },
                periodSeconds: 1,
                failureThreshold: 1,
              },
            },
          ],
        },
      },
    },
  });
  await s.apiJson('POST', `/api/v1/namespaces/${ns}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web' },
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  });
  // No spec.host: the router answers to web-{ns}.localhost, which Chromium resolves to loopback.
  await s.apiJson('POST', `/apis/route.openshift.io/v1/namespaces/${ns}/routes`, {
    apiVersion: 'route.openshift.io/v1',
    kind: 'Route',
    metadata: { name: 'web' },
    spec: { to: { kind: 'Service', name: 'web' } },
  });
}

async function builtDigest(name: string): Promise<string> {
  const b = (await s.apiJson('GET', BUILD_PATH(ns, name))) as any;
  return b.status.output.to.imageDigest as string;
}

test('the event stream needs the token, starts with SYNC, and carries the namespace changes but never a Secret', async () => {
  const path = `/apis/slipway.dev/v1/namespaces/${ns}-events/events`;
  expect((await fetch(`${s.http.url}${path}`)).status).toBe(401);
  const abort = new AbortController();
  const res = await fetch(`${s.http.url}${path}`, {
    headers: { authorization: `Bearer ${s.token}` },
    signal: abort.signal,
  });
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const readUntil = async (needle: string): Promise<void> => {
    while (!text.includes(needle)) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the stream ended before "${needle}": ${text}`);
      text += decoder.decode(value, { stream: true });
    }
  };
  await readUntil('event: SYNC');
  await s.apiJson('POST', `/api/v1/namespaces/${ns}-events/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'hidden' },
    stringData: { token: 'never-streamed-value' },
  });
  await s.apiJson('POST', `/api/v1/namespaces/${ns}-events/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'shown' },
    spec: { selector: { app: 'x' }, ports: [{ port: 80 }] },
  });
  await readUntil('"name":"shown"');
  abort.abort();
  expect(text).toMatch(/event: ADDED\ndata: \{"type":"ADDED","object":\{.*"kind":"Service"/);
  expect(text).not.toContain('hidden');
  expect(text).not.toContain('never-streamed-value');
});

test('a push travels live on the dashboard from commit to the Route serving it, and every page reads on a phone', async () => {
  await applyApp();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.http.url });
  const page = await context.newPage();
  const urls: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  // Script errors, and any request refused once signed in.
  const errors: string[] = [];
  let signedIn = false;
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('response', (r) => {
    if (signedIn && r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });
  try {
    // Sign in: a wrong token is refused back to the form.
    await page.goto(`${s.http.url}/ui`);
    await page.fill('#token', 'not-the-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('#token');
    await signIn(page, s.token);
    signedIn = true;
    await page.fill('#ns', ns);
    await page.press('#ns', 'Enter');
    await page.waitForSelector('[data-app="web"]');
    await waitForText(page, '#live', 'live');
    // A mark that a reload would wipe: everything below arrives through the event stream.
    await page.evaluate(() => ((globalThis as any).window.__sameDocument = true));

    // The first push: its build, image, revision and Route appear as each happens.
    const first = await push(appFiles('v1'), HOSTILE);
    await waitForText(page, field('commit'), first.slice(0, 7), 60_000);
    await waitForText(page, field('build'), 'Complete', 240_000);
    const digest1 = await builtDigest('app-1');
    expect(await page.getAttribute(`${field('image')} code`, 'title')).toBe(digest1);
    await waitForText(page, `${field('serving')} .revision`, 'web-1', 180_000);
    await waitForText(page, `${field('serving')} .ready`, '1/1 ready', 90_000);
    expect(await page.getAttribute(`${field('serving')} code`, 'title')).toContain(digest1);
    const routeUrl = `http://web-${ns}.localhost:${routerPort}/`;
    expect(await page.getAttribute(`${field('route')} a`, 'href')).toBe(routeUrl);
    // The build's stages and their timings are shown.
    await waitForText(page, field('build'), 'PushImage');

    // The commit message is text: no element was made of it, nothing of it ran.
    expect(await page.textContent(`${field('commit')} .message`)).toContain('<img src=x onerror=');
    expect(
      await page.evaluate(() => (globalThis as any).document.querySelectorAll('img, main script').length),
    ).toBe(0);
    expect(await page.evaluate(() => (globalThis as any).window.__xss)).toBeUndefined();
    await screenshot(page, 'overview');

    // The Route link answers from the replica the dashboard says is serving.
    const served = await browser.newPage();
    await served.goto(routeUrl);
    expect((await served.textContent('body'))?.trim()).toBe('v1');
    await served.close();

    // The second push, followed on the build's page: its log streams live, with colours.
    const marker = `colour-${randomUUID().slice(0, 8)}`;
    const second = await push(
      appFiles('v2', `RUN printf '\\033[32m%s\\033[0m\\n' ${marker}\n`),
      'second push',
    );
    await waitForText(page, field('commit'), second.slice(0, 7), 60_000);
    await page.click(`${field('build')} a`);
    await page.waitForSelector('#log');
    await waitForText(page, '#log .ansi-fg-2', marker, 240_000);
    await waitForText(page, '#phase', 'Complete', 60_000);
    expect(await page.textContent('#log')).not.toContain('\u001b');
    await screenshot(page, 'build-log');

    await page.click('nav a:nth-child(1)');
    const digest2 = await builtDigest('app-2');
    await waitForText(page, `${field('serving')} .revision`, 'web-2', 180_000);
    await waitForText(page, `${field('serving')} .ready`, '1/1 ready', 90_000);
    expect(await page.getAttribute(`${field('serving')} code`, 'title')).toContain(digest2);
    await waitFor(
      'the route to serve v2',
      async () => (await getViaRouter(router.url, `web-${ns}.localhost`)).body === 'v2',
      30_000,
      250,
    );
    await screenshot(page, 'overview-second-push');

    // The DeploymentConfig's page: revisions, the one serving, conditions, the rollout log.
    await page.click('[data-app="web"] h3 > a');
    await page.waitForSelector('#revisions tr[data-revision="web-2"].serving');
    await page.waitForSelector('#revisions tr[data-revision="web-1"]');
    await waitForText(page, '#conditions', 'Available');
    await page.waitForFunction(
      () => ((globalThis as any).document.getElementById('rollout-log')?.textContent ?? '').length > 0,
    );
    expect(await page.isDisabled('#cancel')).toBe(true);
    await screenshot(page, 'deploymentconfig');

    // Roll back: a new revision with web-1's image serves, and the page shows it.
    await page.click('#rollback');
    await waitForText(page, '#notice', 'rolled back to web-1');
    await page.waitForSelector('#revisions tr[data-revision="web-3"].serving', { timeout: 90_000 });
    await waitFor(
      'the route to serve v1 again',
      async () => (await getViaRouter(router.url, `web-${ns}.localhost`)).body === 'v1',
      30_000,
      250,
    );
    // Roll out: one more revision, the latest template again.
    await page.click('#rollout');
    await waitForText(page, '#notice', 'revision 4 started');
    await page.waitForSelector('#revisions tr[data-revision="web-4"].serving', { timeout: 90_000 });
    await screenshot(page, 'deploymentconfig-rolled-back-and-out');

    // The image stream keeps each push's image, newest first.
    await page.click('nav a:nth-child(2)');
    await page.waitForSelector('[data-stream="app"] [data-tag="latest"] tbody tr:nth-child(2)');
    const history = (await page.$$eval(
      '[data-stream="app"] [data-tag="latest"] tbody tr code[title]',
      (codes) => codes.map((c) => (c as any).title as string),
    )) as string[];
    expect(history).toEqual([digest2, digest1]);
    const stream = (await s.apiJson('GET', IS_PATH(ns, 'app'))) as any;
    expect(stream.status.tags[0].items).toHaveLength(2);
    await screenshot(page, 'imagestreams');

    // The BuildConfig's page: its triggers, and its webhook URL to copy.
    await page.goBack(); // the DeploymentConfig's page, from history, without a reload
    await page.goBack();
    await page.waitForSelector('[data-app="web"]');
    await page.click('[data-app="web"] h3 .muted a');
    const hookUrl = `${s.http.url}${BC_PATH(ns, 'app')}/webhooks/${SECRET}/github`;
    await waitForText(page, '#webhooks', hookUrl);
    await waitForText(page, '.triggers', 'GitHub webhook');
    await page.click('#webhooks button');
    await waitForText(page, '#notice', 'copied');
    expect(await page.evaluate(() => (globalThis as any).navigator.clipboard.readText())).toBe(hookUrl);
    await screenshot(page, 'buildconfig');

    // Cancel: a rollout whose replica never becomes ready is stopped from its page.
    await s.apiJson('POST', DC(), {
      apiVersion: 'apps.openshift.io/v1',
      kind: 'DeploymentConfig',
      metadata: { name: 'stuck' },
      spec: {
        replicas: 1,
        selector: { app: 'stuck' },
        strategy: { type: 'Rolling', rollingParams: { timeoutSeconds: 300 } },
        template: {
          metadata: { labels: { app: 'stuck' } },
          spec: {
            containers: [
              {
                name: 'web',
                image: stream.status.tags[0].items[0].dockerImageReference,
                env: [{ name: 'NEVER_READY', value: '1' }],
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    });
    await page.click('nav a:nth-child(1)');
    await page.click('[data-app="stuck"] h3 > a');
    await page.waitForSelector('#cancel:not([disabled])', { timeout: 60_000 });
    await page.click('#cancel');
    await waitForText(page, '#notice', 'Cancel: cancelling');
    await page.waitForSelector('#revisions tr[data-revision="stuck-1"] .phase-Failed', { timeout: 60_000 });
    await page.waitForSelector('#cancel[disabled]');
    await waitForText(page, '#rollout-log', 'cancel');
    await screenshot(page, 'deploymentconfig-cancelled');

    expect(await page.evaluate(() => (globalThis as any).window.__sameDocument)).toBe(true);
    expect(errors).toEqual([]);
    // The token travelled in headers only.
    expect(urls.filter((u) => u.includes(s.token))).toEqual([]);
  } catch (err) {
    await screenshot(page, 'failure');
    throw new Error(`${(err as Error).message}\npage errors: ${JSON.stringify(errors)}\nat ${page.url()}`, {
      cause: err,
    });
  }
  await context.close();

  // A phone: each page, opened by its link (as a commit status links to a build), fits its width.
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
  });
  const small = await phone.newPage();
  await small.goto(`${s.http.url}${ui('builds', 'app-2', 'log')}`);
  await signIn(small, s.token);
  const pages: [string, string, string][] = [
    ['phone-overview', ui(), '[data-app="web"] [data-field="route"] a'],
    ['phone-build-log', ui('builds', 'app-2', 'log'), '#log .ansi-fg-2'],
    ['phone-deploymentconfig', ui('deploymentconfigs', 'web'), '#revisions tr.serving'],
    ['phone-buildconfig', ui('buildconfigs', 'app'), '#webhooks'],
    ['phone-imagestreams', ui('imagestreams'), '[data-tag="latest"] tbody tr'],
  ];
  for (const [name, path, ready] of pages) {
    await small.goto(`${s.http.url}${path}`);
    await small.waitForSelector(ready);
    await screenshot(small, name);
    expect({ name, overflow: await horizontalOverflow(small) }).toEqual({ name, overflow: 0 });
  }
  await phone.close();
}, 900_000);

test('a Build and a DeploymentConfig that do not exist say so', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${s.http.url}${ui('builds', 'nope-1', 'log')}`);
  await signIn(page, s.token);
  await waitForText(page, 'main', 'Build "nope-1" not found');
  await page.goto(`${s.http.url}${ui('deploymentconfigs', 'nope')}`);
  await waitForText(page, 'main', 'DeploymentConfig "nope" not found');
  await context.close();
});
