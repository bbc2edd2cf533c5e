/** Debian's Chromium driven by playwright-core, for the web UI tests. */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where the UI tests keep their screenshots (ignored by git). */
export const SCREENSHOTS = join(process.cwd(), 'test-output', 'ui');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium is not installed at ${CHROMIUM}: run scripts/setup.sh`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
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
}

/** Saves a full-page screenshot as test-output/ui/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Signs in on the page shown (the sign-in form) with `token`. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('#signout:not([hidden])');
}

/** How far the page is wider than its viewport, in CSS pixels (0 when nothing overflows). */
export function horizontalOverflow(page: Page): Promise<number> {
  // Runs in the page; the project is type-checked without the DOM library.
  return page.evaluate(() => {
    const doc = (globalThis as any).document.documentElement;
    return Math.max(0, doc.scrollWidth - doc.clientWidth);
  });
}
