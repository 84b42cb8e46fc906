import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium, Browser, Page } from 'playwright-core';
import { ROOT } from '../../core/kernel/paths';
import { CONSOLE_DIST } from '../../services/console/console-assets';

/** Debian's Chromium: playwright's own browser download does not work on the project's machines. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Headless Chromium for the browser tests, installed first when it is missing
 * (scripts/ensure-chromium.sh). Throws, never skips, when it cannot be had.
 */
export async function launchChromium(): Promise<Browser> {
  try {
    execFileSync('bash', [path.join(ROOT, 'scripts', 'ensure-chromium.sh')], { stdio: ['ignore', 'inherit', 'pipe'], timeout: 600_000 });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '');
    throw new Error(`Chromium for the browser tests cannot be had (scripts/ensure-chromium.sh): ${stderr.trim() || (err as Error).message}`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The machine's network is closed: without the background-networking flags Chromium keeps
    // trying Google's hosts, and as root it needs --no-sandbox.
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** The built console (make build); the tests fail, naming the step, when it was not built. */
export function assertConsoleBuilt(): void {
  if (!fs.existsSync(path.join(CONSOLE_DIST, 'index.html'))) {
    throw new Error(`the console is not built (${path.relative(ROOT, CONSOLE_DIST)}/index.html is missing): run make build, or node_modules/.bin/vite build --config services/console/web/vite.config.mts`);
  }
}

/** Where the browser tests leave their screenshots, for a person to look at. */
export const SCREENSHOTS = path.join(ROOT, '.test-data', 'screenshots');

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * What a page did that a test holds it to: every request it made (the hub's origin only: no CDN)
 * and every error it logged (a refused script or style shows there).
 */
export function watchPage(page: Page): { requests: string[]; errors: string[] } {
  const seen = { requests: [] as string[], errors: [] as string[] };
  page.on('request', (r) => seen.requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error') seen.errors.push(m.text()); });
  page.on('pageerror', (e) => seen.errors.push(e.message));
  return seen;
}
