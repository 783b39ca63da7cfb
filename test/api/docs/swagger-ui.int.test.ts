/**
 * /docs in a real headless Chromium (Debian's, through playwright-core, as the console's tests):
 * Swagger UI draws every operation of the document under its strict Content-Security-Policy,
 * loads nothing from another origin, and "Try it out" reaches the API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { startServer, testDomain, testEngine, type TestServer } from '../../helpers/server.js';
import { launchChromium, screenshot, watchPage } from '../../web/browser.js';

/**
 * The one thing the policy refuses: Swagger UI's bundle sets an inline style attribute, which
 * `style-src 'self'` blocks with no visible effect (nothing else on the page needs 'unsafe-inline').
 */
const KNOWN_REFUSAL = /^console: Applying inline style violates the following Content Security Policy directive 'style-src 'self''/;

let engine: SpeechEngine;
let server: TestServer;
let browser: Browser;

before(async () => {
  browser = await launchChromium();
  engine = testEngine();
  server = await startServer(engine, [testDomain('general', 'swagger-ui-test-secret')], { streaming: true });
  // /healthz answers 200 once the model is loaded (503 before, which the page would log as a failed load).
  await engine.ready();
});
after(async () => {
  await browser?.close();
  await server?.close();
  await engine?.close();
});

describe('/docs in a browser', () => {
  it('draws every operation under the strict CSP, from this origin only, and tries one', async (t) => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    const page = await browser.newPage();
    const watched = watchPage(page);
    await page.goto(`${server.url}/docs`);
    await page.locator('.opblock').nth(operations - 1).waitFor();
    assert.equal(await page.locator('.opblock').count(), operations);

    // Try it out: GET /healthz from the page (connect-src 'self').
    await page.locator('.opblock-summary-path', { hasText: /^\/healthz$/ }).click();
    await page.getByRole('button', { name: 'Try it out' }).click();
    await page.getByRole('button', { name: 'Execute' }).click();
    await page.locator('.live-responses-table .response-col_status', { hasText: /^200$/ }).first().waitFor();
    await screenshot(page, 'docs-healthz');

    const origin = new URL(server.url).origin;
    const elsewhere = watched.urls.filter((u) => !u.startsWith(origin) && !u.startsWith('data:'));
    assert.deepEqual(elsewhere, [], 'nothing from another origin');
    const refused = watched.problems.filter((p) => KNOWN_REFUSAL.test(p));
    const unexpected = watched.problems.filter((p) => !KNOWN_REFUSAL.test(p));
    // Logged so a future Swagger UI that stops needing it shows up here.
    t.diagnostic(`known inline-style refusals: ${refused.length}`);
    assert.deepEqual(unexpected, [], 'no other console error, nothing else refused');
    await page.close();
  });
});
