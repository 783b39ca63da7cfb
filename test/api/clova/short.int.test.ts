/**
 * POST /recog/v1/stt end to end: real engine and model, real recordings, real ffmpeg, real
 * HTTP on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenCC from 'opencc-js';
import { quotaSeconds } from '../../../src/api/clova/short.js';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { ffmpeg, makeLongAudio, makeMediaFile, MEDIA_FORMATS, testdataDir } from '../../helpers/media-fixtures.js';
import { MiB, normalizeEnglish, postStt, startServer, testDomain, testEngine, type SttAnswer, type SttCall, type TestServer } from '../../helpers/server.js';

const GENERAL_KEY = 'general-secret-4f1c9a';
const CALLCENTER_KEY = 'callcenter-secret-77b2e0';
const SMALL_KEY = 'small-limits-secret-0d3e';

const clip = (file: string) => path.join(testdataDir(), file);
const JFK = clip('en/jfk.flac');
const GO_FORWARD = clip('en/ps_goforward.flac');
const KOREAN = clip('ko/sppas_namjaga_yeojalul_minda.flac');
const CHINESE = clip('zh/firered_BAC009S0764W0121.flac');

let engine: SpeechEngine;
let server: TestServer;
let tmp: string;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'sori-short-test-'));
  engine = testEngine({ queueLimit: 64 });
  await engine.ready();
  server = await startServer(engine, [
    testDomain('general', GENERAL_KEY),
    testDomain('callcenter', CALLCENTER_KEY),
    // Small limits make the per-domain checks cheap to reach.
    testDomain('small', SMALL_KEY, { shortMaxSeconds: 5, shortMaxBytes: 200_000 }),
  ]);
});

after(async () => {
  await server?.close();
  await engine?.close();
  await rm(tmp, { recursive: true, force: true });
});

/** `key` null sends no X-CLOVASPEECH-API-KEY header at all. */
function stt(
  body: Uint8Array | ReadableStream<Uint8Array>,
  query: string | undefined,
  key: string | null = GENERAL_KEY,
  extra: Omit<SttCall, 'key' | 'query'> = {},
) {
  return postStt(server.url, body, { key: key ?? undefined, query, ...extra });
}

/** The documented error body, exactly: timestamp (epoch ms) and error {errorCode, message}. */
function assertError(answer: SttAnswer, status: number, errorCode: string, message: string): void {
  assert.equal(answer.status, status, `status for ${errorCode}; body ${JSON.stringify(answer.body)}`);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
  const body = answer.body as { timestamp: unknown; error: unknown };
  assert.deepEqual(Object.keys(body).sort(), ['error', 'timestamp']);
  assert.equal(typeof body.timestamp, 'number');
  assert.ok(Number.isInteger(body.timestamp) && (body.timestamp as number) > 1.6e12, 'epoch milliseconds');
  assert.deepEqual(body.error, { errorCode, message });
}

function textOf(answer: SttAnswer): string {
  assert.equal(answer.status, 200, `expected 200, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  const body = answer.body as { text: unknown };
  assert.equal(typeof body.text, 'string');
  return body.text as string;
}

describe('POST /recog/v1/stt: recognition', () => {
  it('transcribes English speech (jfk.flac) with quota in 15 s units', async () => {
    const answer = await stt(await readFile(JFK), 'lang=Eng');
    assert.match(normalizeEnglish(textOf(answer)), /ask not what your country can do for you/);
    assert.deepEqual(Object.keys(answer.body as object).sort(), ['quota', 'text']);
    assert.equal((answer.body as { quota: number }).quota, 15, '11 s of audio is one 15 s unit');
  });

  it('answers Korean in Hangul, for a second domain with its own secret', async () => {
    const text = textOf(await stt(await readFile(KOREAN), 'lang=Kor', CALLCENTER_KEY));
    assert.match(text, /[\uAC00-\uD7A3]/, `Hangul expected in ${JSON.stringify(text)}`);
  });

  it('answers Chn in Simplified Chinese', async () => {
    const text = textOf(await stt(await readFile(CHINESE), 'lang=Chn'));
    assert.match(text, /\p{Script=Han}/u, `Han characters expected in ${JSON.stringify(text)}`);
    // Independent of the server's converter: OpenCC's own Traditional->Simplified table.
    const traditionalToSimplified = OpenCC.Converter({ from: 't', to: 'cn' });
    const traditional = [...text].filter((ch) => traditionalToSimplified(ch) !== ch);
    assert.deepEqual(traditional, [], `Traditional-only characters in ${JSON.stringify(text)}`);
  });

  it('accepts every promised media format', async () => {
    for (const format of MEDIA_FORMATS) {
      const file = await makeMediaFile(GO_FORWARD, format, tmp);
      const text = textOf(await stt(await readFile(file), 'lang=Eng'));
      assert.match(normalizeEnglish(text), /forward/, `${format}: ${JSON.stringify(text)}`);
      await rm(file);
    }
  });

  it('returns usr_graph with graph=true: 50 positive ints per second', async () => {
    const answer = await stt(await readFile(JFK), 'lang=Eng&graph=true');
    textOf(answer);
    const graph = (answer.body as { usr_graph: unknown }).usr_graph;
    assert.ok(Array.isArray(graph));
    assert.ok(Math.abs(graph.length - 50 * 11) <= 2, `length ${graph.length} for 11 s`);
    assert.ok(graph.every((v) => Number.isInteger(v) && v > 0), 'all positive integers');
    assert.ok(new Set(graph).size > 10, 'an envelope of speech varies');
  });

  it('rounds the quota up to whole 15 s units', async () => {
    assert.deepEqual([4, 15, 15.0004, 30, 31, 44.9, 60, 0.2].map(quotaSeconds), [15, 15, 15, 30, 45, 45, 60, 15]);
    // Speech then silence: the engine skips silent windows, so 31 s stays cheap to recognise.
    const file = path.join(tmp, 'go-forward-31s.flac');
    await ffmpeg(['-i', GO_FORWARD, '-af', 'apad=whole_dur=31', '-c:a', 'flac', file]);
    const answer = await stt(await readFile(file), 'lang=Eng');
    textOf(answer);
    assert.equal((answer.body as { quota: number }).quota, 45);
  });

  it('accepts odd but harmless headers and flags: Content-Type parameters, Accept, boostings', async () => {
    const answer = await stt(await readFile(GO_FORWARD), 'lang=Eng&graph=false&boostings=meters%09go%09forward', GENERAL_KEY, {
      contentType: 'Application/Octet-Stream; charset=UTF-8',
      headers: { Accept: 'application/json;UTF-8' },
    });
    assert.match(normalizeEnglish(textOf(answer)), /forward/);
    assert.deepEqual(Object.keys(answer.body as object).sort(), ['quota', 'text'], 'no graph fields');
  });
});

describe('POST /recog/v1/stt: errors', () => {
  let speech: Buffer;
  before(async () => {
    speech = await readFile(GO_FORWARD);
  });

  it('401 for a missing or wrong secret, before anything else', async () => {
    assertError(await stt(speech, 'lang=Eng', null), 401, '401', 'Invalid secret');
    assertError(await stt(speech, 'lang=Eng', 'wrong-secret'), 401, '401', 'Invalid secret');
    assertError(await stt(new Uint8Array(0), undefined, 'wrong-secret', { contentType: 'text/plain' }), 401, '401', 'Invalid secret');
  });

  it('STT004 without lang, STT005 for an unknown one', async () => {
    assertError(await stt(speech, undefined), 400, 'STT004', 'Empty Language');
    assertError(await stt(speech, 'lang='), 400, 'STT004', 'Empty Language');
    assertError(await stt(speech, 'lang=Fra'), 400, 'STT005', 'Invalid Language');
  });

  it('400 for malformed parameter values', async () => {
    assertError(await stt(speech, 'lang=Eng&graph=maybe'), 400, '400', 'Invalid request parameters');
    assertError(await stt(speech, 'lang=Eng&assessment=yes'), 400, '400', 'Invalid request parameters');
    assertError(await stt(speech, `lang=Kor&boostings=${'가'.repeat(513)}`), 400, '400', 'Invalid request parameters');
  });

  it('STT002 for any Content-Type but application/octet-stream', async () => {
    assertError(await stt(speech, 'lang=Eng', GENERAL_KEY, { contentType: 'audio/wav' }), 400, 'STT002', 'Invalid Content Type');
    assertError(await stt(speech, 'lang=Eng', GENERAL_KEY, { contentType: 'application/json;UTF-8' }), 400, 'STT002', 'Invalid Content Type');
    assertError(await stt(speech, 'lang=Eng', GENERAL_KEY, { contentType: null }), 400, 'STT002', 'Invalid Content Type');
  });

  it('STT003 for an empty body', async () => {
    assertError(await stt(new Uint8Array(0), 'lang=Eng'), 400, 'STT003', 'Empty Sound Data');
  });

  it('STT001 for a body over the size limit, declared or streamed', async () => {
    const big = Buffer.alloc(10 * MiB + 1, 1);
    assertError(await stt(big, 'lang=Eng'), 413, 'STT001', 'Exceed Sound Data length');
    // The "small" domain's own limit applies although the route allows 10 MiB.
    assertError(await stt(Buffer.alloc(200_001, 1), 'lang=Eng', SMALL_KEY), 413, 'STT001', 'Exceed Sound Data length');
    // Chunked upload without Content-Length: refused when the limit is crossed.
    const chunks = Array.from({ length: 5 }, () => new Uint8Array(64 * 1024).fill(7));
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(next);
      },
    });
    assertError(await stt(stream, 'lang=Eng', SMALL_KEY), 413, 'STT001', 'Exceed Sound Data length');
  });

  it('STT001 for audio longer than the limit, without decoding all of it', async () => {
    const long = await makeLongAudio(GO_FORWARD, 61, tmp);
    assertError(await stt(await readFile(long), 'lang=Eng'), 413, 'STT001', 'Exceed Sound Data length');
    // 11 s is over the "small" domain's 5 s.
    assertError(await stt(await readFile(JFK), 'lang=Eng', SMALL_KEY), 413, 'STT001', 'Exceed Sound Data length');
  });

  it('STT006 for bytes that are not media, and for media without audio', async () => {
    assertError(await stt(Buffer.from('this is not audio at all, just text\n'.repeat(50)), 'lang=Eng'), 500, 'STT006', 'Failed to pre-processing');
    const videoOnly = path.join(tmp, 'video-only.mp4');
    await ffmpeg(['-f', 'lavfi', '-t', '2', '-i', 'color=c=black:s=64x64:r=5', '-c:v', 'mpeg4', videoOnly]);
    assertError(await stt(await readFile(videoOnly), 'lang=Eng'), 500, 'STT006', 'Failed to pre-processing');
  });

  it('answers a GET on the route with fastify 404, not a CLOVA body', async () => {
    const res = await fetch(`${server.url}/recog/v1/stt?lang=Eng`);
    assert.equal(res.status, 404);
  });
});

describe('POST /recog/v1/stt: concurrency', () => {
  it('answers 20 concurrent requests, each with its own clip\'s text', { timeout: 600_000 }, async () => {
    const clips = [
      ['en/ps_cards_001.flac', 'lang=Eng'],
      ['en/ps_cards_002.flac', 'lang=Eng'],
      ['en/ps_goforward.flac', 'lang=Eng'],
      ['ko/sppas_namjaga_yeojalul_minda.flac', 'lang=Kor'],
      ['zh/firered_IT0011W0001.flac', 'lang=Chn'],
    ] as const;
    const bodies = await Promise.all(clips.map(([file]) => readFile(clip(file))));
    // What each clip gives on its own is the reference; together they must give the same.
    const solo: string[] = [];
    for (let i = 0; i < clips.length; i++) solo.push(textOf(await stt(bodies[i], clips[i][1])));
    assert.equal(new Set(solo).size, clips.length, `distinct clips give distinct texts: ${JSON.stringify(solo)}`);

    const order = Array.from({ length: 20 }, (_, i) => (i * 3) % clips.length);
    const answers = await Promise.all(order.map((c) => stt(bodies[c], clips[c][1])));
    answers.forEach((answer, i) => {
      assert.equal(textOf(answer), solo[order[i]], `request ${i} (${clips[order[i]][0]})`);
    });
  });

  it('stops the engine work when the client disconnects', { timeout: 600_000 }, async () => {
    const body = await readFile(clip('zh/sppas_f1_P8.flac'));
    const abort = new AbortController();
    const pending = stt(body, 'lang=Chn', GENERAL_KEY, { signal: abort.signal }).catch((err: unknown) => err);
    // Hang up only once the engine is working on it, so it is the engine that gets aborted.
    while (engine.load().running === 0) await new Promise((r) => setTimeout(r, 20));
    abort.abort();
    assert.ok((await pending) instanceof Error, 'the client saw its own abort');
    while (!server.logText().includes('short recognition aborted')) await new Promise((r) => setTimeout(r, 50));
    while (engine.load().running > 0 || engine.load().queued > 0) await new Promise((r) => setTimeout(r, 20));
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /sori_http_requests_total\{method="POST",route="\/recog\/v1\/stt",status="aborted"\} 1/);
    // The server still serves.
    assert.match(normalizeEnglish(textOf(await stt(await readFile(GO_FORWARD), 'lang=Eng'))), /forward/);
  });
});

describe('POST /recog/v1/stt: a client that hangs up mid-upload', () => {
  it('is logged as the client\'s doing, never as a server error (found by the fuzzer: it was an STT999 error line)', async () => {
    const before = server.logText().length;
    const socket = connect(new URL(server.url).port === '' ? 80 : Number(new URL(server.url).port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`POST /recog/v1/stt?lang=Eng HTTP/1.1\r\nHost: x\r\nX-CLOVASPEECH-API-KEY: ${GENERAL_KEY}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`);
    socket.write(Buffer.alloc(5000, 1));
    await new Promise((r) => setTimeout(r, 100));
    socket.end();
    const settled = (): boolean => /client disconnected during the upload|short recognition (failed|refused)/.test(server.logText().slice(before));
    for (let waited = 0; !settled() && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    assert.match(server.logText().slice(before), /client disconnected during the upload/);
    const lines = server.logText().slice(before).split('\n').filter((l) => l !== '');
    assert.deepEqual(lines.filter((l) => /"level":(50|60)/.test(l)), []);
  });
});

describe('POST /recog/v1/stt: logs', () => {
  it('never writes a secret into the log', () => {
    const logs = server.logText();
    assert.ok(logs.includes('"request done"'), 'requests were logged');
    for (const secret of [GENERAL_KEY, CALLCENTER_KEY, SMALL_KEY, 'wrong-secret']) {
      assert.ok(!logs.includes(secret), `secret ${secret} leaked into the log`);
    }
  });
});
