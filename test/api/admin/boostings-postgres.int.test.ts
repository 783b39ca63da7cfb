/**
 * Registered boostings in cluster mode: two real servers on one PostgreSQL (each its own data
 * directory, as two nodes). A set PUT on node 1 is what GET answers on node 2 within the reload
 * bound (1 s), and a recognition on node 2 with `useDomainBoostings` uses it; DELETE on node 1
 * is seen on node 2 too; with PostgreSQL stopped a PUT answers 503 STORE_UNAVAILABLE (nothing
 * changed) while GET keeps answering the last set loaded.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SHARED_BOOSTINGS_REFRESH_MS } from '../../../src/domains/boostings.js';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { testdataDir } from '../../helpers/media-fixtures.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';
import { startNodesOnDatabase, testEngine, type TestServer } from '../../helpers/server.js';

const KEY = 'boostings-cluster-secret';
const PATH = '/admin/domains/general/boostings';
const squash = (s: string): string => s.replace(/\s+/gu, '');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let postgres: PostgresServer;
let engine: SpeechEngine;
let nodes: TestServer[] = [];
let stopNodes: (() => Promise<void>) | undefined;

before(async () => {
  postgres = await startPostgres();
  const url = await postgres.createDatabase('boostings');
  // Beam 5, as longform-boostings.int.test.ts (its clip and word were chosen for it).
  engine = testEngine({ beamSize: 5 });
  const started = await startNodesOnDatabase(engine, { url, key: KEY, count: 2, name: 'boostings', tweak: (config) => { config.engine.beamSize = 5; } });
  ({ nodes, close: stopNodes } = started);
});

after(async () => {
  await stopNodes?.();
  await engine?.close();
  await postgres?.close();
});

async function admin(node: TestServer, method: 'GET' | 'PUT' | 'DELETE', body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${node.url}${PATH}`, {
    method,
    headers: { 'X-CLOVASPEECH-API-KEY': KEY, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Polls node's GET until `want` holds; returns how long it took. */
async function seen(node: TestServer, want: (b: Record<string, unknown>) => boolean): Promise<number> {
  const start = Date.now();
  for (let i = 0; i < 200; i++) {
    const r = await admin(node, 'GET');
    assert.equal(r.status, 200);
    if (want(r.body)) return Date.now() - start;
    await pause(25);
  }
  throw new Error('never seen');
}

async function upload(node: TestServer, clip: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
  const form = new FormData();
  form.append('media', new Blob([await readFile(join(testdataDir(), clip))]), clip.split('/').pop());
  form.append('params', JSON.stringify({ completion: 'sync', ...params }));
  const res = await fetch(`${node.url}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY }, body: form });
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.result, 'COMPLETED', JSON.stringify(body));
  return body;
}

describe('registered boostings shared through PostgreSQL', () => {
  it('PUT on node 1 is returned by GET on node 2 and used by a recognition there; DELETE too', { timeout: 300_000 }, async (t) => {
    const [one, two] = nodes;
    const clip = 'ko/etts_nek00001.flac';
    const plain = await upload(two, clip, { language: 'ko-KR' });
    assert.ok(!squash(String(plain.text)).includes('취득'), `plain: ${String(plain.text)}`);

    const keywords = ['태풍', '토너먼트', '뉴욕', '취득', '질량'];
    const put = await admin(one, 'PUT', { keywords });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body, { domain: 'general', source: 'admin', count: keywords.length, keywords });
    const ms = await seen(two, (b) => b.source === 'admin' && JSON.stringify(b.keywords) === JSON.stringify(keywords));
    t.diagnostic(`node 2 returned node 1's set ${ms} ms after the PUT (reload every ${SHARED_BOOSTINGS_REFRESH_MS} ms)`);
    assert.deepEqual((await admin(two, 'GET')).body, put.body, 'the same answer on both nodes');

    const boosted = await upload(two, clip, { language: 'ko-KR', useDomainBoostings: true });
    assert.ok(squash(String(boosted.text)).includes('취득'), `boosted on node 2: ${String(boosted.text)}`);

    const reset = await admin(one, 'DELETE');
    assert.deepEqual(reset.body, { domain: 'general', source: 'config', count: 0, keywords: [] });
    await seen(two, (b) => b.source === 'config' && b.count === 0);
  });

  it('with PostgreSQL stopped a PUT answers 503 and changes nothing; GET answers the last set; back after', { timeout: 120_000 }, async () => {
    const [one, two] = nodes;
    assert.equal((await admin(one, 'PUT', { keywords: ['질량'] })).status, 200);
    await seen(two, (b) => b.count === 1);
    await postgres.stop('fast');
    try {
      const refused = await admin(two, 'PUT', { keywords: ['토성'] });
      assert.equal(refused.status, 503);
      assert.deepEqual(refused.body, { error: { code: 'STORE_UNAVAILABLE', message: 'the shared store is unavailable; try again later' } });
      const still = await admin(two, 'GET');
      assert.equal(still.status, 200);
      assert.deepEqual(still.body.keywords, ['질량'], 'the last set loaded stays in use');
    } finally {
      await postgres.start();
    }
    assert.equal((await admin(two, 'PUT', { keywords: ['토성'] })).status, 200);
    await seen(one, (b) => JSON.stringify(b.keywords) === '["토성"]');
  });
});
