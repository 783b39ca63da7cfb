/**
 * A full engine queue answers 503 STT007 at once (Sori's addition to CLOVA's table), with the
 * real engine held busy by real requests.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { testdataDir } from '../../helpers/media-fixtures.js';
import { postStt, startServer, testDomain, testEngine, type SttAnswer, type TestServer } from '../../helpers/server.js';

const KEY = 'busy-test-secret-93ab';

let engine: SpeechEngine;
let server: TestServer;

before(async () => {
  engine = testEngine({ parallel: 1, queueLimit: 1 });
  await engine.ready();
  server = await startServer(engine, [testDomain('general', KEY)]);
});

after(async () => {
  await server?.close();
  await engine?.close();
});

const pause = () => new Promise((r) => setTimeout(r, 20));

describe('POST /recog/v1/stt when the engine is saturated', () => {
  it('refuses the overflow with 503 STT007 and Retry-After, and serves the rest', { timeout: 600_000 }, async () => {
    const long = await readFile(path.join(testdataDir(), 'zh/sppas_f1_P8.flac'));
    const short = await readFile(path.join(testdataDir(), 'en/ps_goforward.flac'));
    const send = (body: Buffer, query: string) => postStt(server.url, body, { key: KEY, query });

    // Fill the engine: one long clip running, one waiting (parallel 1, queueLimit 1).
    const running = send(long, 'lang=Chn');
    while (engine.load().running === 0) await pause();
    const waiting = send(long, 'lang=Chn');
    while (engine.load().queued === 0) await pause();

    const burst = await Promise.all(Array.from({ length: 6 }, () => send(short, 'lang=Eng')));
    const all: SttAnswer[] = [await running, await waiting, ...burst];

    const busy = all.filter((a) => a.status === 503);
    assert.ok(busy.length >= 1, `some requests are refused: ${all.map((a) => a.status).join(',')}`);
    for (const answer of busy) {
      assert.equal(answer.headers.get('retry-after'), '1');
      const body = answer.body as { timestamp: unknown; error: unknown };
      assert.deepEqual(Object.keys(body).sort(), ['error', 'timestamp']);
      assert.equal(typeof body.timestamp, 'number');
      assert.deepEqual(body.error, { errorCode: 'STT007', message: 'Server Busy' });
    }
    assert.equal(all[0].status, 200, 'the running request completes');
    assert.equal(all[1].status, 200, 'the queued request completes');
    for (const answer of all) assert.ok(answer.status === 200 || answer.status === 503, `status ${answer.status}`);
  });
});
