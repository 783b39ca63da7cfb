/**
 * A real headless Chromium for the console's tests: Debian's `chromium` package (installed by
 * scripts/install-test-services.sh), driven by playwright-core, which never downloads a browser.
 * No browser is a failure with a clear message, not a skip: CI installs it.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { testLogDir } from '../helpers/test-logs.js';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The system's Chromium: `SORI_CHROMIUM`, or Debian's. */
export function chromiumPath(): string {
  const given = process.env.SORI_CHROMIUM;
  if (given !== undefined && given !== '') {
    if (!existsSync(given)) throw new Error(`SORI_CHROMIUM=${given} does not exist`);
    return given;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(
      'the console tests need a Chromium: none found at ' + CANDIDATES.join(', ') +
      ' (install it with scripts/install-test-services.sh, i.e. `apt-get install chromium`, or set SORI_CHROMIUM)',
    );
  }
  return found;
}

export async function launchChromium(args: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Containers and CI runners often run as root, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage', ...args],
  });
}

/** Where screenshots go: `<run's log dir>/screenshots`, or `.test-logs/screenshots` (both git-ignored). */
export async function screenshotDir(): Promise<string> {
  const dir = join(testLogDir() ?? resolve('.test-logs'), 'screenshots');
  await mkdir(dir, { recursive: true });
  return dir;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const file = join(await screenshotDir(), `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Everything the page complained about (console errors, uncaught exceptions: a CSP violation
 * is a console error) and every URL it requested, for the tests to check.
 */
export function watchPage(page: Page): { problems: string[]; urls: string[] } {
  const problems: string[] = [];
  const urls: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => urls.push(r.url()));
  page.on('websocket', (ws) => urls.push(ws.url()));
  return { problems, urls };
}
