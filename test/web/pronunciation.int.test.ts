/**
 * Pronunciation practice in a real headless Chromium: pick a sentence, "read" it through the
 * fake capture device (the JFK recording), and see the sentence and word scores and both
 * waveform envelopes drawn, from the real short API with assessment.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { SpeechEngine } from '../../src/speech/engine.js';
import { testdataDir } from '../helpers/media-fixtures.js';
import { startServer, testConfig, testDomain, testEngine, type TestServer } from '../helpers/server.js';
import { launchWithMicrophone, screenshot, signIn, watchPage } from './browser.js';

const KEY = 'practice-secret-value';
const SENTENCE = 'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';

let engine: SpeechEngine;
let server: TestServer;
let dir: string;
let browser: Browser;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sori-practice-'));
  browser = await launchWithMicrophone(join(testdataDir(), 'en/jfk.flac'), dir);
  engine = testEngine();
  const config = testConfig([testDomain('general', KEY)]);
  config.dataDir = join(dir, 'data');
  config.server = { ...config.server, console: true };
  server = await startServer(engine, [], { jobsConfig: config });
});
after(async () => {
  await browser?.close();
  await server?.close();
  await engine?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('web console: pronunciation practice', () => {
  it('records a picked sentence and shows the sentence score, word scores and both graphs', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    await context.grantPermissions(['microphone']);
    const page = await context.newPage();
    const { problems, urls } = watchPage(page);
    await signIn(page, server.url, KEY);
    await page.getByRole('button', { name: 'Practice' }).click();
    await page.getByLabel('Pick a sentence').selectOption(SENTENCE);
    assert.equal(await page.getByLabel('Sentence to read').inputValue(), SENTENCE);
    await page.getByRole('button', { name: 'Record' }).click();
    // The fake microphone plays the 11 s recording once, then silence.
    await page.waitForFunction(() => Number(document.getElementById('practice-recording')?.dataset.seconds ?? 0) >= 11.5, undefined, { timeout: 60_000 });
    await page.getByRole('button', { name: 'Stop and score' }).click();
    await page.getByRole('status').filter({ hasText: 'Scored.' }).waitFor({ timeout: 120_000 });
    await screenshot(page, 'console-practice');

    const score = Number(await page.locator('#practice-score').innerText());
    assert.ok(score >= 60 && score <= 100, `sentence score ${score} for the sentence read as written`);
    const words = await page.locator('#practice-words li').evaluateAll((els) => els.map((e) => ({ text: e.textContent ?? '', score: Number(e.getAttribute('data-score')) })));
    assert.deepEqual(words.map((w) => w.text.split(' ')[0]), ['and', 'so', 'my', 'fellow', 'americans', 'ask', 'not', 'what', 'your', 'country', 'can', 'do', 'for', 'you', 'ask', 'what', 'you', 'can', 'do', 'for', 'your', 'country']);
    for (const w of words) assert.ok(w.score >= 0 && w.score <= 100);
    assert.match(await page.locator('#practice-heard').innerText(), /country/i);
    // Both envelopes drawn: grey reference pixels and blue user pixels on the canvas.
    const drawn = await page.evaluate(() => {
      const c = document.getElementById('practice-graph') as HTMLCanvasElement;
      const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
      let grey = 0;
      let blue = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] === 0) continue;
        // The line is #1d4ed8; the fill is #6b7280, half transparent.
        if (d[i + 2] > 180 && d[i] < 80) blue++;
        else if (d[i] > 90 && d[i + 2] < 160) grey++;
      }
      return { grey, blue };
    });
    assert.ok(drawn.grey > 1000 && drawn.blue > 500, JSON.stringify(drawn));
    for (const url of urls) assert.ok(!url.includes(KEY), `the secret is never in a URL: ${url}`);
    assert.deepEqual(problems, [], 'no console errors and no CSP violations');
    await context.close();
  });
});
