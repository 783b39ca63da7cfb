/**
 * The web console in a real headless Chromium against a real server (real models, real job
 * system): sign in, upload a two-speaker clip, watch it progress, read the transcript, seek by
 * clicking a word, download subtitles, find the job in the list. Also the console's headers
 * and its switch.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { CONSOLE_CSP } from '../../src/api/console.js';
import type { Config } from '../../src/config.js';
import type { SpeechEngine } from '../../src/speech/engine.js';
import { testdataDir } from '../helpers/media-fixtures.js';
import { startServer, testConfig, testDomain, testEngine, type TestServer } from '../helpers/server.js';
import { launchChromium, screenshot, signIn, watchPage } from './browser.js';

const KEY = 'console-secret-value';
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

interface AxeViolation { id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }
const CLIP = join(testdataDir(), 'en/pyannote_sample_2spk.flac');

let engine: SpeechEngine;
let server: TestServer;
let dataDir: string;
let browser: Browser;

async function consoleConfig(consoleOn: boolean): Promise<Config> {
  const c = testConfig([testDomain('general', KEY)]);
  c.dataDir = dataDir;
  c.server = { ...c.server, console: consoleOn };
  return c;
}

before(async () => {
  // First, so that a missing browser fails at once with its message.
  browser = await launchChromium();
  dataDir = await mkdtemp(join(tmpdir(), 'sori-console-'));
  engine = testEngine();
  server = await startServer(engine, [], { jobsConfig: await consoleConfig(true) });
});
after(async () => {
  await browser?.close();
  await server?.close();
  await engine?.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

const openAndSignIn = (page: Page, key = KEY): Promise<void> => signIn(page, server.url, key);

describe('web console', () => {
  it('serves its files with a strict CSP and security headers; the API answers keep theirs', async () => {
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(page.headers.get('content-security-policy'), CONSOLE_CSP);
    assert.match(CONSOLE_CSP, /default-src 'self'/);
    assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval|https?:/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    const html = await page.text();
    assert.ok(!/<script>|<style|\sstyle=|\son[a-z]+=/i.test(html), 'no inline script, style or handler');
    assert.ok(!/https?:\/\//.test(html), 'nothing from elsewhere');
    const js = await fetch(`${server.url}/js/main.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    const api = await fetch(`${server.url}/recognizer`, { headers: { 'X-CLOVASPEECH-API-KEY': KEY } });
    assert.equal(api.status, 200);
    assert.equal(api.headers.get('content-security-policy'), null, 'API answers are not the console\'s');
    assert.deepEqual(await api.json(), { jobs: [], limit: 20, offset: 0, next: null });
    for (const q of ['limit=0', 'limit=101', 'limit=x', 'offset=-1']) {
      const bad = await fetch(`${server.url}/recognizer?${q}`, { headers: { 'X-CLOVASPEECH-API-KEY': KEY } });
      assert.equal(bad.status, 400, q);
      assert.equal(((await bad.json()) as { result: string }).result, 'ERROR_REQUEST_PARAMETER');
    }
    assert.equal((await fetch(`${server.url}/recognizer`)).status, 401);
    const noFormat = await fetch(`${server.url}/recognizer/${'0'.repeat(32)}/subtitle?format=DOCX`, { headers: { 'X-CLOVASPEECH-API-KEY': KEY } });
    assert.equal(noFormat.status, 400);
    assert.equal((await fetch(`${server.url}/no-such-file.js`)).status, 404);
    assert.equal((await fetch(`${server.url}/../package.json`)).status, 404);
  });

  it('refuses a wrong secret, then signs in, uploads, shows progress, speakers, seeks and downloads', async () => {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    const { problems, urls } = watchPage(page);
    await openAndSignIn(page, 'not-the-secret');
    await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();
    await screenshot(page, 'console-sign-in');
    await page.getByLabel('Domain secret').fill(KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Transcribe a recording' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('sori.secret')), KEY, 'kept in the tab\'s session storage');

    await page.getByLabel('Audio or video file').setInputFiles(CLIP);
    const options = page.getByRole('group', { name: 'Options' });
    await options.getByLabel('Language').selectOption('en-US');
    await page.getByLabel('Subtitle format').selectOption('VTT');
    await page.getByLabel('Most speakers').fill('2');
    await page.getByLabel('Boosted keywords').fill('pyannote');
    const started = Date.now();
    await page.getByRole('button', { name: 'Upload and transcribe' }).click();
    // Progress is shown while the job runs (the bar exists and says a state).
    await page.locator('#progress-text').filter({ hasText: /WAITING|PROCESSING|COMPLETED/ }).waitFor();
    await page.locator('#transcript li').first().waitFor({ timeout: 180_000 });
    const ms = Date.now() - started;
    console.log(`console: upload to transcript shown for a 30 s clip (en/pyannote_sample_2spk.flac): ${ms} ms`);
    assert.match(await page.locator('#progress-text').innerText(), /COMPLETED 100%/);

    // Two speakers, in two colours.
    const speakers = await page.locator('#speakers li').allInnerTexts();
    assert.deepEqual(speakers, ['Speaker A', 'Speaker B']);
    const classes = await page.locator('#transcript li.seg').evaluateAll((els) => els.map((e) => e.className));
    assert.ok(classes.some((c) => c.includes('spk-1')) && classes.some((c) => c.includes('spk-2')), classes.join(' '));
    const colours = await page.locator('#transcript li.seg').evaluateAll((els) => [...new Set(els.map((e) => getComputedStyle(e).borderLeftColor))]);
    assert.equal(colours.length, 2, 'one colour per speaker');
    assert.match(await page.locator('#transcript .ts').first().innerText(), /^\d+:\d{2}\.\d$/);
    await screenshot(page, 'console-transcript');

    // A click on a word seeks the player there, and that word is the highlighted one.
    const words = page.locator('#transcript .w');
    assert.ok((await words.count()) > 20, 'word by word');
    const target = words.nth(15);
    const start = Number(await target.getAttribute('data-start'));
    await target.click();
    await page.waitForFunction(() => {
      const p = document.getElementById('player') as HTMLAudioElement;
      return !p.seeking && p.readyState >= 1;
    });
    await page.evaluate(() => (document.getElementById('player') as HTMLAudioElement).pause());
    const at = await page.evaluate(() => (document.getElementById('player') as HTMLAudioElement).currentTime * 1000);
    assert.ok(Math.abs(at - start) < 700, `player at ${at} ms after a click on a word at ${start} ms`);
    const lit = page.locator('#transcript .w.now');
    assert.equal(await lit.count(), 1);
    const litStart = Number(await lit.getAttribute('data-start'));
    assert.ok(Math.abs(litStart - start) < 1500, `lit word at ${litStart} ms, clicked ${start} ms`);
    await screenshot(page, 'console-seek');

    // Downloads: SRT and SMI written on request, VTT as the job ran, JSON the whole result.
    for (const format of ['SRT', 'VTT', 'SMI', 'JSON']) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: format, exact: true }).click()]);
      const text = await readFile(await download.path(), 'utf8');
      if (format === 'SRT') assert.match(text, /^1\r?\n\d\d:\d\d:\d\d,\d{3} --> .*\r?\n[AB]: /);
      if (format === 'VTT') assert.match(text, /^WEBVTT/);
      if (format === 'SMI') assert.match(text, /<SAMI>/);
      if (format === 'JSON') assert.equal(JSON.parse(text).result, 'COMPLETED');
      assert.ok(download.suggestedFilename().endsWith(`.${format.toLowerCase()}`));
    }

    // The job list: newest first with its state, progress and file name; a job opens from it.
    await page.getByRole('button', { name: 'Jobs' }).click();
    const row = page.locator('#jobs-table tbody tr').first();
    await page.locator('#jobs-table tbody tr', { hasText: 'COMPLETED' }).first().waitFor();
    assert.match(await row.innerText(), /pyannote_sample_2spk\.flac\s+COMPLETED\s+100%/);
    await screenshot(page, 'console-jobs');
    await row.getByRole('button', { name: /Open job/ }).click();
    await page.locator('#transcript li').first().waitFor();

    for (const url of urls) assert.ok(!url.includes(KEY), `the secret is never in a URL: ${url}`);
    assert.deepEqual(problems.filter((p) => !p.includes('401')), [], 'no console errors and no CSP violations');
    assert.ok(!server.logText().includes(KEY), 'the secret is never logged');
    await context.close();
  });

  it('is keyboard usable: every control has a label and sign-in works without a mouse', async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'secret');
    await page.keyboard.type(KEY);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Transcribe a recording' }).waitFor();
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea')]
        .filter((e) => (e as HTMLInputElement).labels?.length === 0 && !e.getAttribute('aria-label'))
        .map((e) => e.id),
    );
    assert.deepEqual(unlabelled, []);
    await page.close();
  });

  it('takes a dropped file, and the job list follows a running job until it completes without a click', async () => {
    const page = await browser.newPage();
    await openAndSignIn(page);
    await page.getByRole('heading', { name: 'Transcribe a recording' }).waitFor();
    const bytes = (await readFile(join(testdataDir(), 'en/jfk.flac'))).toString('base64');
    const dropped = await page.evaluateHandle((b64) => {
      const data = new DataTransfer();
      data.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'jfk.flac', { type: 'audio/flac' }));
      return data;
    }, bytes);
    await page.dispatchEvent('#drop', 'drop', { dataTransfer: dropped });
    assert.equal(await page.evaluate(() => (document.getElementById('file') as HTMLInputElement).files?.[0]?.name), 'jfk.flac');
    await page.getByRole('status').filter({ hasText: 'Ready: jfk.flac' }).waitFor();
    await page.getByRole('group', { name: 'Options' }).getByLabel('Language').selectOption('en-US');
    await page.getByRole('button', { name: 'Upload and transcribe' }).click();
    await page.getByRole('status').filter({ hasText: /accepted/ }).waitFor();
    await page.getByRole('button', { name: 'Jobs' }).click();
    const row = page.locator('#jobs-table tbody tr', { hasText: 'jfk.flac' });
    await row.waitFor();
    const first = await row.locator('.state').innerText();
    // No click on Refresh from here: the list polls while a job it shows is unfinished.
    await page.locator('#jobs-table tbody tr', { hasText: 'jfk.flac' }).filter({ hasText: 'COMPLETED' }).waitFor({ timeout: 120_000 });
    console.log(`console: the job list showed the jfk job ${first} first, then COMPLETED by itself`);
    await page.close();
  });

  it('passes axe-core\'s WCAG 2.1 A and AA checks (contrast, labels, names, structure) on every tab', async () => {
    // Only here is the CSP bypassed: axe is injected as a script, which the policy rightly refuses.
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    await openAndSignIn(page);
    await page.getByRole('heading', { name: 'Transcribe a recording' }).waitFor();
    await page.getByRole('button', { name: 'Jobs' }).click();
    await page.locator('#jobs-table tbody tr', { hasText: 'COMPLETED' }).first().getByRole('button', { name: /Open job/ }).click();
    await page.locator('#transcript li').first().waitFor();
    await page.evaluate(await readFile(AXE, 'utf8'));
    const audit = async (): Promise<string[]> => {
      const found = await page.evaluate(async () => {
        const axe = (window as unknown as { axe: { run: (ctx: Document, opts: unknown) => Promise<{ violations: AxeViolation[]; passes: unknown[] }> } }).axe;
        const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
        return { violations: result.violations, passes: result.passes.map((p) => (p as { id: string }).id) };
      });
      // It did look: contrast and labels are among the checks that passed.
      assert.ok(found.passes.includes('color-contrast'), found.passes.join(' '));
      return found.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
    };
    const problems: Record<string, string[]> = { transcript: await audit() };
    for (const tab of ['Jobs', 'Live', 'Practice']) {
      await page.getByRole('button', { name: tab, exact: true }).click();
      problems[tab] = await audit();
    }
    await page.getByRole('button', { name: 'Sign out' }).click();
    problems['sign-in'] = await audit();
    assert.deepEqual(problems, { transcript: [], Jobs: [], Live: [], Practice: [], 'sign-in': [] });
    await context.close();
  });

  it('is not mounted when server.console is false', async () => {
    const off = await startServer(engine, [], { config: await consoleConfig(false) });
    try {
      assert.equal((await fetch(`${off.url}/`)).status, 404);
      assert.equal((await fetch(`${off.url}/js/main.js`)).status, 404);
    } finally {
      await off.close();
    }
  });
});
