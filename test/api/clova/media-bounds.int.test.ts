/**
 * Hostile media through the real routes: a few kilobytes that decode to hours, a container that
 * lies about its length, a decompression bomb for ffmpeg, and ffmpeg's time and memory limits
 * (config `media`). Real engine, real ffmpeg, real job store.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../../src/config.js';
import { memoryLimitEnforceable } from '../../../src/media/decode.js';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { answer, type Answer } from '../../helpers/answer.js';
import { makeLyingFlac, makePngBomb, makeSilentFlac, testdataDir } from '../../helpers/media-fixtures.js';
import { normalizeEnglish, postStt, startServer, testConfig, testDomain, testEngine, type TestServer } from '../../helpers/server.js';

const KEY = 'media-bounds-secret';
const JFK = join(testdataDir(), 'en/jfk.flac');

let engine: SpeechEngine;
let work: string;
const servers: TestServer[] = [];
const dirs: string[] = [];

before(async () => {
  engine = testEngine();
  work = await mkdtemp(join(tmpdir(), 'sori-media-bounds-'));
  dirs.push(work);
});

after(async () => {
  for (const s of servers) await s.close();
  await engine?.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A server with jobs whose config `change` adjusts. */
async function serverWith(change: (c: Config) => void): Promise<TestServer> {
  const config = testConfig([testDomain('general', KEY)]);
  config.dataDir = await mkdtemp(join(tmpdir(), 'sori-media-bounds-data-'));
  dirs.push(config.dataDir);
  change(config);
  const server = await startServer(engine, [], { jobsConfig: config });
  servers.push(server);
  return server;
}

async function upload(server: TestServer, file: string, params: Record<string, unknown>): Promise<Answer> {
  const form = new FormData();
  form.append('media', new Blob([new Uint8Array(await readFile(file))]), 'media.flac');
  form.append('params', JSON.stringify(params));
  return fetch(`${server.url}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY }, body: form }).then(answer);
}

async function waitDone(server: TestServer, token: string): Promise<Record<string, unknown>> {
  for (;;) {
    const { body } = await fetch(`${server.url}/recognizer/${token}`, { headers: { 'X-CLOVASPEECH-API-KEY': KEY } }).then(answer);
    if (body.result !== 'WAITING' && body.result !== 'PROCESSING') return body;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stt(server: TestServer, file: string): Promise<{ status: number; errorCode: unknown; text: unknown }> {
  const a = await postStt(server.url, new Uint8Array(await readFile(file)), { key: KEY, query: 'lang=Eng' });
  const body = a.body as { error?: { errorCode: string }; text?: string };
  return { status: a.status, errorCode: body.error?.errorCode, text: body.text };
}

describe('short route: media longer than it looks', () => {
  it('refuses 26 KB of FLAC that decode to 3 hours, and a header claiming 10 s over 3 hours, with 413 STT001', { timeout: 300_000 }, async () => {
    const server = await serverWith(() => undefined);
    const hours = await makeSilentFlac(3 * 3600, work);
    const liar = await makeLyingFlac(3 * 3600, 10, work);
    for (const file of [hours, liar]) {
      const r = await stt(server, file);
      assert.equal(r.status, 413, file);
      assert.equal(r.errorCode, 'STT001');
    }
  });
});

describe('ffmpeg limits (media.*)', () => {
  it('a decode over media.decodeTimeoutSeconds is killed: 500 STT006, the reason in the log', { timeout: 300_000 }, async () => {
    const server = await serverWith((c) => {
      c.media.decodeTimeoutSeconds = 0.01;
    });
    const r = await stt(server, JFK);
    assert.equal(r.status, 500);
    assert.equal(r.errorCode, 'STT006');
    assert.match(server.logText(), /took longer than the 0\.01 s limit/);
  });

  it('a memory limit too small for ffmpeg: short 500 STT006, long-form job ERROR_AUDIO_CONVERSION', { timeout: 300_000 }, async (t) => {
    if (!(await memoryLimitEnforceable())) return t.skip('prlimit (util-linux) is not installed');
    const server = await serverWith((c) => {
      c.media.memoryLimitMb = 64;
    });
    const r = await stt(server, JFK);
    assert.equal(r.status, 500);
    assert.equal(r.errorCode, 'STT006');
    assert.match(server.logText(), /64 MB memory limit/);
    const accepted = await upload(server, JFK, { language: 'en-US', completion: 'async' });
    assert.equal(accepted.status, 200);
    const done = await waitDone(server, String(accepted.body.token));
    assert.equal(done.result, 'FAILED');
    assert.equal(done.errorCode, 'ERROR_AUDIO_CONVERSION');
    assert.match(String(done.message), /64 MB memory limit/);
  });

  it('a PNG bomb (a 12000x12000 frame beside the speech) is recognised within a 512 MB limit', { timeout: 300_000 }, async (t) => {
    if (!(await memoryLimitEnforceable())) return t.skip('prlimit (util-linux) is not installed');
    const server = await serverWith((c) => {
      c.media.memoryLimitMb = 512;
    });
    const bomb = await makePngBomb(JFK, work);
    const r = await stt(server, bomb);
    assert.equal(r.status, 200);
    assert.match(normalizeEnglish(String(r.text)), /ask not what your country can do for you/);
  });
});

describe('long-form jobs: media longer than it looks', () => {
  it('a 3-hour file (26 KB) over a 1-hour async limit fails from its probe, before decoding', { timeout: 300_000 }, async () => {
    const server = await serverWith((c) => {
      c.longform.asyncMaxSeconds = 3600;
    });
    const accepted = await upload(server, await makeSilentFlac(3 * 3600, work), { language: 'en-US', completion: 'async' });
    assert.equal(accepted.status, 200);
    const done = await waitDone(server, String(accepted.body.token));
    assert.equal(done.result, 'FAILED');
    assert.equal(done.errorCode, 'ERROR_REQUEST_PARAMETER');
    assert.match(String(done.message), /media is 10800 s long; async requests accept up to 3600 s/);
  });

  it('a header claiming 10 s over 3 hours passes the probe, then decoding stops at the limit', { timeout: 300_000 }, async () => {
    const server = await serverWith((c) => {
      c.longform.asyncMaxSeconds = 60;
    });
    const accepted = await upload(server, await makeLyingFlac(3 * 3600, 10, work), { language: 'en-US', completion: 'async' });
    assert.equal(accepted.status, 200);
    const done = await waitDone(server, String(accepted.body.token));
    assert.equal(done.result, 'FAILED');
    assert.equal(done.errorCode, 'ERROR_REQUEST_PARAMETER');
    // From the stream (not from the decoded length after hours of recognition).
    assert.match(String(done.message), /goes on past the 60 s limit/);
  });
});
