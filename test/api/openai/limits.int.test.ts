/**
 * The OpenAI routes' limits and the ways a request can end early, on a real server in process:
 * the wrong-secret throttle (one gate with the CLOVA routes), openai.maxSeconds, a full engine
 * queue, and a client that hangs up mid-recognition. All 4xx/503 in OpenAI's shape, no error logged.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { testdataDir } from '../../helpers/media-fixtures.js';
import { postStt, startServer, testDomain, testEngine, type TestServer } from '../../helpers/server.js';
import { registerSecrets, testAuthGate } from '../../helpers/test-logs.js';

const KEY = 'openai-limits-test-secret';
const WRONG = 'openai-limits-wrong-secret';
const MAX_SECONDS = 8;

let engine: SpeechEngine;
let server: TestServer;
let jfk: Buffer;
let korean: Buffer;
let long: Buffer;

before(async () => {
  engine = testEngine({ parallel: 1, queueLimit: 1 });
  await engine.ready();
  registerSecrets('presented', WRONG);
  const domains = [testDomain('general', KEY)];
  server = await startServer(engine, domains, { openai: { maxSeconds: MAX_SECONDS }, auth: testAuthGate(domains, { maxFailures: 3, windowSeconds: 60 }) });
  jfk = await readFile(join(testdataDir(), 'en/jfk.flac'));
  korean = await readFile(join(testdataDir(), 'ko/etts_neb00001.flac'));
  long = await readFile(join(testdataDir(), 'en/jobs_dots.flac'));
});
after(async () => {
  await server?.close();
  await engine?.close();
});

interface Answer {
  status: number;
  headers: Headers;
  body: { error?: { message: string; type: string; param: string | null; code: string | null }; text?: string };
}

async function transcribe(audio: Buffer, fields: Record<string, string> = {}, key = KEY, signal?: AbortSignal): Promise<Answer> {
  const form = new FormData();
  form.append('model', 'whisper-1');
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([new Uint8Array(audio)]), 'audio.flac');
  const res = await fetch(`${server.url}/v1/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form, signal });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer['body'] };
}

const pause = (ms = 20) => new Promise((r) => setTimeout(r, ms));
const errorLines = () => server.logText().split('\n').filter((l) => /"level":50/.test(l));

describe('OpenAI routes: limits and early ends', () => {
  it('openai.maxSeconds: within one window and beyond it, refused as audio_too_long before the engine runs long', async () => {
    const ok = await transcribe(korean);
    assert.equal(ok.status, 200);
    for (const audio of [jfk, long]) {
      const started = Date.now();
      const answer = await transcribe(audio);
      assert.equal(answer.status, 400);
      assert.deepEqual([answer.body.error?.code, answer.body.error?.param, answer.body.error?.type], ['audio_too_long', 'file', 'invalid_request_error']);
      assert.match(answer.body.error?.message ?? '', new RegExp(`${MAX_SECONDS} s`));
      assert.ok(Date.now() - started < 5000, 'refused without transcribing the file');
    }
  });

  it('a full engine queue answers 503 server_busy with Retry-After, and serves the rest', { timeout: 600_000 }, async () => {
    const running = transcribe(korean);
    while (engine.load().running === 0) await pause();
    const waiting = transcribe(korean);
    while (engine.load().queued === 0) await pause();
    const burst = await Promise.all(Array.from({ length: 4 }, () => transcribe(korean)));
    const all = [await running, await waiting, ...burst];
    const busy = all.filter((a) => a.status === 503);
    assert.ok(busy.length >= 1, all.map((a) => a.status).join(','));
    for (const answer of busy) {
      assert.equal(answer.headers.get('retry-after'), '1');
      assert.deepEqual([answer.body.error?.type, answer.body.error?.code], ['server_error', 'server_busy']);
    }
    assert.deepEqual([all[0].status, all[1].status], [200, 200]);
    for (const answer of all) assert.ok(answer.status === 200 || answer.status === 503);
  });

  it('a client hanging up mid-recognition stops it: no answer owed, nothing logged as an error', async () => {
    const abort = new AbortController();
    const pending = transcribe(korean, { response_format: 'verbose_json', 'timestamp_granularities[]': 'word' }, KEY, abort.signal);
    while (engine.load().running === 0) await pause(5);
    abort.abort();
    await assert.rejects(pending);
    for (let i = 0; i < 200 && !/openai recognition aborted/.test(server.logText()); i++) await pause();
    assert.match(server.logText(), /client disconnected; openai recognition aborted/);
    while (engine.load().running > 0 || engine.load().queued > 0) await pause();
    assert.equal((await transcribe(korean)).status, 200, 'the engine serves the next request');
    assert.deepEqual(errorLines(), []);
  });

  it('wrong secrets are throttled per client on one gate with the CLOVA routes: 429 rate_limit_exceeded, Retry-After', async () => {
    // One wrong secret on the CLOVA route, two here: the third failure blocks the client.
    assert.equal((await postStt(server.url, jfk, { key: WRONG, query: 'lang=Eng' })).status, 401);
    for (let i = 0; i < 2; i++) {
      const answer = await transcribe(jfk, {}, WRONG);
      assert.equal(answer.status, 401);
      assert.deepEqual([answer.body.error?.code, answer.body.error?.type], ['invalid_api_key', 'invalid_request_error']);
    }
    // Blocked now, even with the right secret, here and on the CLOVA route.
    const models = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(models.status, 429);
    const retryAfter = Number(models.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
    const body = (await models.json()) as Answer['body'];
    assert.deepEqual([body.error?.type, body.error?.code], ['requests', 'rate_limit_exceeded']);
    assert.equal((await transcribe(jfk)).status, 429);
    assert.equal((await postStt(server.url, jfk, { key: KEY, query: 'lang=Eng' })).status, 429);
    assert.deepEqual(errorLines(), []);
  });
});
