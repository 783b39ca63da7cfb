/**
 * Live transcription in a real headless Chromium: its fake capture device plays a testdata
 * recording as the microphone, the console streams it over the WebSocket route (the secret as
 * a subprotocol), and partials then finals appear with their end-point types.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { SpeechEngine } from '../../src/speech/engine.js';
import { testdataDir } from '../helpers/media-fixtures.js';
import { normalizeEnglish, startServer, testConfig, testDomain, testEngine, type TestServer } from '../helpers/server.js';
import { registerSecrets } from '../helpers/test-logs.js';
import { launchWithMicrophone, screenshot, signIn, watchPage } from './browser.js';

const KEY = 'microphone-secret-value';
// One long sentence read without pauses: partials while it is read, whatever the machine's load.
const CLIP = 'en/librispeech_1089-134686-0000.flac';
const EPD_TYPES = ['gap', 'endPoint', 'durationThreshold', 'period', 'syllableThreshold', 'unvoice'];

let engine: SpeechEngine;
let server: TestServer;
let dir: string;
let browser: Browser;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sori-mic-'));
  // 3 s of silence after the speech lets a gap end it.
  browser = await launchWithMicrophone(join(testdataDir(), CLIP), dir, { padSeconds: 3, args: ['--autoplay-policy=no-user-gesture-required'] });
  engine = testEngine();
  const config = testConfig([testDomain('general', KEY)]);
  config.dataDir = join(dir, 'data');
  config.server = { ...config.server, console: true };
  server = await startServer(engine, [], { jobsConfig: config, streaming: true });
  registerSecrets('websocket subprotocol', Buffer.from(KEY).toString('base64url'));
});
after(async () => {
  await browser?.close();
  await server?.close();
  await engine?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('web console: live microphone', () => {
  it('streams the microphone and shows partials, then finals with their end-point types', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    await context.grantPermissions(['microphone']);
    const page = await context.newPage();
    const { problems, urls } = watchPage(page);
    await signIn(page, server.url, KEY);
    await page.getByRole('button', { name: 'Live' }).click();
    await page.locator('#live-language').selectOption('en');
    // Every partial shown, as the page saw them.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { partials: string[] }).partials = seen;
      const node = document.getElementById('live-partial');
      if (node !== null) new MutationObserver(() => { if (node.textContent) seen.push(node.textContent); }).observe(node, { childList: true, characterData: true, subtree: true });
    });
    await page.getByRole('button', { name: 'Start microphone' }).click();
    const final = page.locator('#live-finals li').filter({ hasText: /potatoes|mutton|sauce/i }).first();
    await final.waitFor({ timeout: 120_000 });
    await screenshot(page, 'console-live');
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.getByRole('status').filter({ hasText: 'Stopped.' }).waitFor({ timeout: 60_000 });

    const partials = await page.evaluate(() => (window as unknown as { partials: string[] }).partials);
    assert.ok(partials.length > 0, 'partials came before the final');
    const finals = await page.locator('#live-finals li').evaluateAll((els) => els.map((e) => ({ epd: e.getAttribute('data-epd'), text: e.querySelector('.text')?.textContent ?? '' })));
    assert.ok(finals.length >= 1);
    for (const f of finals) assert.ok(EPD_TYPES.includes(String(f.epd)), `end-point type shown: ${f.epd}`);
    assert.match(normalizeEnglish(finals.map((f) => f.text).join(' ')), /stew for dinner turnips and carrots/);
    const ep = await page.locator('#live-finals li .ep').first().innerText();
    assert.ok(EPD_TYPES.includes(ep), ep);

    const socket = urls.find((u) => u.startsWith('ws'));
    assert.ok(socket !== undefined && socket.endsWith('/recognizer/stream'), String(socket));
    for (const url of urls) assert.ok(!url.includes(KEY) && !url.includes('key='), `the secret is never in a URL: ${url}`);
    assert.deepEqual(problems, [], 'no console errors and no CSP violations');
    assert.ok(!server.logText().includes(KEY), 'the secret is never logged');
    await context.close();
  });
});
