/**
 * The web UI in headless Chromium (Debian's, driven by playwright-core): sign in with
 * the API token, see a build in the list, open its log page (the page commit statuses
 * link to) and watch the log arrive.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { BASE_IMAGE, startGitDaemon, type GitServer } from '../support/stack.js';
import { BC_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

// Runs inside the page (serialised, so self-contained); the project is type-checked without the DOM library.
const logContains = (text: string): boolean =>
  (globalThis as any).document.getElementById('log')?.textContent?.includes(text);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let s: TestSlipway;
let git: GitServer;
let browser: Browser;
const ns = `ui-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium is not installed at ${CHROMIUM}: run scripts/setup.sh`);
  s = await startSlipway({ workers: 1 });
  git = await startGitDaemon();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await s?.stop();
  await git?.stop();
});

test('sign in, list builds, and follow a build log to Complete', async () => {
  const marker = `ui-log-${randomUUID()}`;
  git.commit('uiapp', { Dockerfile: `FROM ${BASE_IMAGE}\nRUN echo ${marker}\n` });
  await s.apiJson('POST', BC_PATH(ns), {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name: 'uiapp' },
    spec: {
      source: { git: { uri: git.url('uiapp'), ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: {} },
    },
  });
  await s.apiJson('POST', `${BC_PATH(ns, 'uiapp')}/instantiate`, {});

  const page = await browser.newPage();
  await page.goto(`${s.http.url}/ui`);
  await page.fill('#token', 'not-the-token');
  await page.click('button[type=submit]');
  await page.waitForSelector('#token'); // refused: back to sign-in
  await page.fill('#token', s.token);
  await page.click('button[type=submit]');
  await page.fill('#ns', ns);
  await page.dispatchEvent('#ns', 'change');
  await page.waitForSelector(`a[href="/ui/namespaces/${ns}/builds/uiapp-1/log"]`);
  await page.click(`a[href="/ui/namespaces/${ns}/builds/uiapp-1/log"]`);
  await page.waitForFunction(logContains, marker, { timeout: 120000 });
  await page.waitForFunction(
    () => (globalThis as any).document.getElementById('phase')?.textContent === 'Complete',
    undefined,
    { timeout: 60000 },
  );
  await page.screenshot({ path: `${process.env.TMPDIR ?? '/tmp'}/slipway-ui-build-log.png` });

  // The direct link (what a GitHub commit status points at) opens the same log.
  const direct = await browser.newPage();
  await direct.goto(`${s.http.url}/ui`);
  await direct.evaluate((t) => (globalThis as any).localStorage.setItem('slipwayToken', t), s.token);
  await direct.goto(`${s.http.url}/ui/namespaces/${ns}/builds/uiapp-1/log`);
  await direct.waitForFunction(logContains, marker);
});
