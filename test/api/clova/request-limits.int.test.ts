/**
 * Per-domain request rate (a token bucket shared by the short and long-form routes) and uploads
 * received at once, against a real server with a real job store. No models are loaded: every
 * answer checked here comes before recognition.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { postStt, startServer, testConfig, testDomain, testEngine, type TestServer } from '../../helpers/server.js';

const LIMITED = 'limited-domain-secret';
const FREE = 'free-domain-secret';
const UPLOADS = 'one-upload-domain-secret';

let engine: SpeechEngine;
let server: TestServer;
const dirs: string[] = [];

before(async () => {
  // A model that cannot load: nothing here is recognised (jobs accepted here fail, unobserved).
  const models = await mkdtemp(path.join(os.tmpdir(), 'sori-no-models-'));
  dirs.push(models);
  await mkdir(path.join(models, 'whisper-base', 'onnx'), { recursive: true });
  for (const file of ['encoder_model_quantized.onnx', 'decoder_model_merged_quantized.onnx']) {
    await writeFile(path.join(models, 'whisper-base', 'onnx', file), 'not a model');
  }
  engine = testEngine({ modelsDir: models, threads: 1 });
  engine.ready().catch(() => undefined);
  const domains = [
    testDomain('general', 'general-secret'),
    // One request per 100 s: the second within a test is always over the rate.
    testDomain('limited', LIMITED, { requestsPerSecond: 0.01 }),
    testDomain('free', FREE),
    testDomain('uploads', UPLOADS, { maxConcurrentUploads: 1 }),
  ];
  const config = testConfig(domains);
  config.dataDir = await mkdtemp(path.join(os.tmpdir(), 'sori-request-limits-'));
  dirs.push(config.dataDir);
  server = await startServer(engine, domains, { jobsConfig: config });
});

after(async () => {
  await server?.close();
  await engine?.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function longform(method: string, route: string, key: string, body?: BodyInit): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(`${server.url}${route}`, {
    method,
    headers: { 'X-CLOVASPEECH-API-KEY': key, ...(typeof body === 'string' ? { 'Content-Type': 'application/json' } : {}) },
    body,
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

function uploadForm(): FormData {
  const form = new FormData();
  form.append('media', new Blob([new Uint8Array(4096)]), 'noise.wav');
  form.append('params', JSON.stringify({ language: 'en-US', completion: 'async' }));
  return form;
}

describe('request rate per domain', () => {
  it('refuses a domain over its rate on both families with their busy answers and Retry-After; polling and other domains go on', async () => {
    // The first request takes the bucket's one token (and is answered on its merits: empty body).
    const first = await postStt(server.url, new Uint8Array(0), { key: LIMITED, query: 'lang=Kor' });
    assert.equal(first.status, 400);
    assert.deepEqual((first.body as { error: unknown }).error, { errorCode: 'STT003', message: 'Empty Sound Data' });

    const second = await postStt(server.url, new Uint8Array(0), { key: LIMITED, query: 'lang=Kor' });
    assert.equal(second.status, 503);
    assert.deepEqual(Object.keys(second.body as object).sort(), ['error', 'timestamp']);
    assert.deepEqual((second.body as { error: unknown }).error, { errorCode: 'STT007', message: 'Server Busy' });
    const retry = Number(second.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 100, `Retry-After ${second.headers.get('retry-after')}`);

    // The bucket is the domain's, whichever route: long-form job creation is refused too.
    const job = await longform('POST', '/recognizer/url', LIMITED, JSON.stringify({ url: 'https://example.com/a.mp3', language: 'ko-KR', completion: 'async' }));
    assert.equal(job.status, 429);
    assert.deepEqual(job.body, { result: 'ERROR_TOO_MANY_JOBS', message: 'domain "limited" is over its 0.01 requests per second', token: '' });
    assert.ok(Number(job.headers.get('retry-after')) >= 1);
    const prefixed = await longform('POST', '/external/v1/1/abc/recognizer/upload', LIMITED, uploadForm());
    assert.equal(prefixed.status, 429);

    // Polling is not job creation: unknown token, not 429.
    const poll = await longform('GET', `/recognizer/${'0'.repeat(32)}`, LIMITED);
    assert.equal(poll.status, 404);

    // Another domain has its own bucket (and none here).
    for (let i = 0; i < 5; i++) {
      const other = await postStt(server.url, new Uint8Array(0), { key: FREE, query: 'lang=Kor' });
      assert.equal(other.status, 400);
    }
  });
});

describe('uploads at once per domain', () => {
  it('refuses an upload while the domain already sends its maximum, and accepts one once it is in', { timeout: 120_000 }, async () => {
    const boundary = 'sori-test-boundary';
    const head =
      `--${boundary}\r\nContent-Disposition: form-data; name="params"\r\n\r\n${JSON.stringify({ language: 'en-US', completion: 'async' })}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="slow.wav"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    const media = Buffer.alloc(64 * 1024);
    const tail = `\r\n--${boundary}--\r\n`;
    const length = Buffer.byteLength(head) + media.length + Buffer.byteLength(tail);
    const port = Number(new URL(server.url).port);

    // The first upload: headers and half its media now, the rest later.
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('utf8')));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(
      `POST /recognizer/upload HTTP/1.1\r\nHost: sori\r\nX-CLOVASPEECH-API-KEY: ${UPLOADS}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`,
    );
    socket.write(head);
    socket.write(media.subarray(0, media.length / 2));
    // Generous: the server has read these headers (and taken the slot) long before.
    await new Promise((r) => setTimeout(r, 1500));

    const refused = await longform('POST', '/recognizer/upload', UPLOADS, uploadForm());
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.body, { result: 'ERROR_TOO_MANY_JOBS', message: 'domain "uploads" is already sending 1 uploads at once', token: '' });
    assert.equal(refused.headers.get('retry-after'), '10');

    // Another domain's upload is not held up.
    const other = await longform('POST', '/recognizer/upload', FREE, uploadForm());
    assert.equal(other.status, 200);
    assert.equal((other.body as { result: string }).result, 'SUCCEEDED');

    socket.write(media.subarray(media.length / 2));
    socket.write(tail);
    await closed;
    assert.match(answer, /^HTTP\/1\.1 200 /, answer.slice(0, 200));
    assert.match(answer, /"result":"SUCCEEDED"/);

    // Its slot is free again.
    const next = await longform('POST', '/recognizer/upload', UPLOADS, uploadForm());
    assert.equal(next.status, 200);
  });

  it('frees the slot of an upload whose client went away mid-body', { timeout: 120_000 }, async () => {
    const port = Number(new URL(server.url).port);
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /recognizer/upload HTTP/1.1\r\nHost: sori\r\nX-CLOVASPEECH-API-KEY: ${UPLOADS}\r\n` +
        'Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name="media"; filename="x"\r\n\r\nabc',
    );
    await new Promise((r) => setTimeout(r, 1000));
    socket.destroy();
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = (await longform('POST', '/recognizer/upload', UPLOADS, uploadForm())).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 200, 'an upload is accepted once the abandoned one is gone');
  });
});

describe('an upload refused mid-body', () => {
  it('has the rest of its body read and discarded: the client is not left stuck sending', { timeout: 120_000 }, async () => {
    const boundary = 'b';
    const media = Buffer.alloc(16 * 1024 * 1024);
    // Two "params" parts: refused as soon as the second is read, before the media that follows.
    const params = `--${boundary}\r\nContent-Disposition: form-data; name="params"\r\n\r\n{"language":"en-US"}\r\n`;
    const head = `${params}${params}--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="big"\r\n\r\n`;
    const tail = `\r\n--${boundary}--\r\n`;
    const socket = connect({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let answer = '';
    const answered = new Promise<void>((resolve) => {
      socket.on('data', (d: Buffer) => {
        answer += d.toString('utf8');
        if (/more than one/.test(answer)) resolve();
      });
    });
    socket.on('error', () => undefined);
    socket.write(
      `POST /recognizer/upload HTTP/1.1\r\nHost: sori\r\nX-CLOVASPEECH-API-KEY: ${FREE}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\n` +
        `Content-Length: ${Buffer.byteLength(head) + media.length + Buffer.byteLength(tail)}\r\n\r\n${head}`,
    );
    // 16 MB that nobody wants any more: they must still go through rather than fill the window.
    const sent = new Promise<void>((resolve, reject) => {
      socket.write(media);
      socket.write(tail, (err) => (err ? reject(err) : resolve()));
    });
    const within = (ms: number) => new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), ms).unref());
    assert.notEqual(await Promise.race([sent, within(60_000)]), 'late', 'all 16 MB were taken by the server');
    assert.notEqual(await Promise.race([answered, within(60_000)]), 'late', 'the refusal arrived');
    assert.match(answer, /^HTTP\/1\.1 400 /, answer.slice(0, 120));
    assert.match(answer, /ERROR_PARAMS_FORMAT_INVALID/);
    socket.destroy();
  });
});

