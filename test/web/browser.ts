/**
 * A real headless Chromium for the console's tests: Debian's `chromium` package (installed by
 * scripts/install-test-services.sh), driven by playwright-core, which never downloads a browser.
 * No browser is a failure with a clear message, not a skip: CI installs it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
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

/**
 * A Chromium whose microphone plays `clip` once (its fake capture device, which reads 16-bit PCM
 * WAV: the clip is converted into `dir` with ffmpeg, `padSeconds` of silence after it).
 */
export async function launchWithMicrophone(clip: string, dir: string, opts: { padSeconds?: number; args?: string[] } = {}): Promise<Browser> {
  const wav = join(dir, 'microphone.wav');
  const pad = opts.padSeconds === undefined ? [] : ['-af', `apad=pad_dur=${opts.padSeconds}`];
  await promisify(execFile)('ffmpeg', ['-nostdin', '-v', 'error', '-i', clip, ...pad, '-ac', '1', '-ar', '48000', '-c:a', 'pcm_s16le', wav]);
  return launchChromium([
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${wav}%noloop`,
    ...(opts.args ?? []),
  ]);
}

/** Opens the console at `url` and signs in with `key` as a user would. */
export async function signIn(page: Page, url: string, key: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Domain secret').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
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
