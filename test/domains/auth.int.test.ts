/**
 * Authentication on every surface of a real server (short, long-form, admin, WebSocket on the
 * HTTP port; NestService on gRPC), all sharing one AuthGate as in `sori`: a domain's previous
 * secret works everywhere during a rotation, and a client address that presented too many
 * wrong secrets is refused everywhere, with Retry-After, while a client from another address
 * still gets in. Attackers come from 127.0.0.2 and up (a socket bound there; a TCP relay for
 * gRPC), one address per test so each starts with a clean count. The gate's clock is the wall
 * clock plus a skew the test can add to, so "until the window passes" needs no sleeping.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import WebSocket from 'ws';
import type { DomainConfig } from '../../src/config.js';
import { AuthGate } from '../../src/domains/auth.js';
import type { SpeechEngine } from '../../src/speech/engine.js';
import { sharedVadLoader } from '../../src/speech/vad/silero.js';
import { NEST_PROTO, startGrpcServer, type GrpcServerHandle } from '../../src/stream/grpc.js';
import { StreamSlots } from '../../src/stream/stream-slots.js';
import { forwardFrom, httpFrom, type HttpAnswer } from '../helpers/client-address.js';
import { modelsDir, testdataDir } from '../helpers/media-fixtures.js';
import { normalizeEnglish, startServer, testConfig, testDomain, testEngine, type TestServer } from '../helpers/server.js';
import { testLogger } from '../helpers/test-logs.js';
import { PCM16_MONO_16K, wavFile } from '../../bench/lib/wav.js';

const KEY = 'auth-int-current-secret';
const OLD_KEY = 'auth-int-previous-secret';
const OTHER_KEY = 'auth-int-other-domain-secret';
const WRONG = (i: number): string => `auth-int-wrong-guess-${i}`;
const MAX_FAILURES = 3;
const WINDOW_S = 60;

let engine: SpeechEngine;
let server: TestServer;
let grpcServer: GrpcServerHandle;
let dataDir: string;
let skewMs = 0;
const blocked: string[] = [];
let Client: grpc.ServiceClientConstructor;
let jfk: Buffer;
/** One second of 16 kHz mono silence as WAV: the cheapest body a recognition answers 200 to. */
let silence: Buffer;

before(async () => {
  engine = testEngine();
  dataDir = await mkdtemp(join(tmpdir(), 'sori-auth-int-'));
  const domains: DomainConfig[] = [{ ...testDomain('general', KEY), previousSecrets: [OLD_KEY] }, testDomain('other', OTHER_KEY)];
  const config = testConfig(domains);
  config.dataDir = dataDir;
  const auth = new AuthGate(domains, {
    maxFailures: MAX_FAILURES,
    windowSeconds: WINDOW_S,
    now: () => Date.now() + skewMs,
    onBlocked: (client) => blocked.push(client),
  });
  server = await startServer(engine, [], { jobsConfig: config, streaming: true, auth });
  grpcServer = await startGrpcServer({
    host: '127.0.0.1', port: 0, auth, engine, vad: sharedVadLoader(modelsDir()), slots: new StreamSlots(), logger: testLogger('auth-int-grpc'),
  });
  const def = protoLoader.loadSync(NEST_PROTO, { keepCase: true, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { com: { nbp: { cdncp: { nest: { grpc: { proto: { v1: { NestService: grpc.ServiceClientConstructor } } } } } } } };
  Client = pkg.com.nbp.cdncp.nest.grpc.proto.v1.NestService;
  jfk = await readFile(join(testdataDir(), 'en/jfk.flac'));
  silence = wavFile(PCM16_MONO_16K, new Uint8Array(32000));
});

after(async () => {
  await grpcServer?.close();
  await server?.close();
  await engine?.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// One request per surface, from a chosen address

const stt = (from: string, key: string, body: Buffer = silence): Promise<HttpAnswer> =>
  httpFrom(from, `${server.url}/recog/v1/stt?lang=Eng`, {
    method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': key, 'Content-Type': 'application/octet-stream' }, body,
  });

const UNKNOWN_TOKEN = '0123456789abcdef0123456789abcdef';
/** GET of an unknown job: 404 ERROR_TOKEN_INVALID once authenticated, 401 before. */
const longform = (from: string, key: string, prefix = '', extra: Record<string, string> = {}): Promise<HttpAnswer> =>
  httpFrom(from, `${server.url}${prefix}/recognizer/${UNKNOWN_TOKEN}`, { headers: { 'X-CLOVASPEECH-API-KEY': key, ...extra } });

const admin = (from: string, headers: Record<string, string>): Promise<HttpAnswer> =>
  httpFrom(from, `${server.url}/admin/domains/general/boostings`, { headers });

/** A WebSocket that sends a config and `end`: its config ack and close, or its refusal. */
async function websocket(from: string, key: string): Promise<{ code: number; reason: string; acks: number }> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/recognizer/stream?key=${encodeURIComponent(key)}`, { localAddress: from });
  let acks = 0;
  ws.on('message', (d) => {
    if ((JSON.parse(String(d)) as { responseType?: string[] }).responseType?.[0] === 'config') acks++;
  });
  ws.on('open', () => {
    ws.send(JSON.stringify({ transcription: { language: 'en' } }));
    ws.send(JSON.stringify({ end: true }));
  });
  return new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), acks })));
}

interface GrpcOutcome {
  acks: number;
  error: grpc.ServiceError | undefined;
}

/** A NestService call with a config alone, from `from` (through a relay unless 127.0.0.1). */
async function nest(from: string, key: string): Promise<GrpcOutcome> {
  const relay = from === '127.0.0.1' ? undefined : await forwardFrom(from, grpcServer.port);
  const client = new Client(`127.0.0.1:${relay?.port ?? grpcServer.port}`, grpc.credentials.createInsecure()) as unknown as {
    recognize(md: grpc.Metadata): grpc.ClientDuplexStream<unknown, { contents: string }>;
    close(): void;
  };
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${key}`);
  const call = client.recognize(md);
  try {
    return await new Promise<GrpcOutcome>((resolve) => {
      let acks = 0;
      let error: grpc.ServiceError | undefined;
      call.on('data', (r: { contents: string }) => {
        if ((JSON.parse(r.contents) as { responseType?: string[] }).responseType?.[0] === 'config') acks++;
      });
      call.on('error', (e: grpc.ServiceError) => (error = e));
      call.on('close', () => resolve({ acks, error }));
      call.write({ type: 'CONFIG', config: { config: JSON.stringify({ transcription: { language: 'en' } }) } });
      call.end();
    });
  } finally {
    client.close();
    await relay?.close();
  }
}

function retryAfter(a: HttpAnswer): number {
  const value = Number(a.headers['retry-after']);
  assert.ok(Number.isInteger(value) && value >= 1 && value <= WINDOW_S, `Retry-After ${String(a.headers['retry-after'])}`);
  return value;
}

// ---------------------------------------------------------------------------------------------

describe('rotation: a previous secret works on every surface, beside the current one', () => {
  it('short recognition', async () => {
    const old = await stt('127.0.0.1', OLD_KEY, jfk);
    assert.equal(old.status, 200, JSON.stringify(old.body));
    assert.match(normalizeEnglish((old.body as { text: string }).text), /ask not what your country/);
    assert.equal((await stt('127.0.0.1', KEY)).status, 200);
  });

  it('long-form', async () => {
    for (const key of [OLD_KEY, KEY]) {
      const a = await longform('127.0.0.1', key);
      assert.equal(a.status, 404, 'authenticated: the token is what is unknown');
      assert.equal((a.body as { result: string }).result, 'ERROR_TOKEN_INVALID');
    }
  });

  it('admin, by header and by Bearer', async () => {
    const variants: Array<Record<string, string>> = [{ 'X-CLOVASPEECH-API-KEY': OLD_KEY }, { Authorization: `Bearer ${OLD_KEY}` }, { Authorization: `Bearer ${KEY}` }];
    for (const headers of variants) {
      const a = await admin('127.0.0.1', headers);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal((a.body as { domain: string }).domain, 'general');
    }
  });

  it('WebSocket', async () => {
    for (const key of [OLD_KEY, KEY]) assert.deepEqual(await websocket('127.0.0.1', key), { code: 1000, reason: 'done', acks: 1 });
  });

  it('gRPC', async () => {
    for (const key of [OLD_KEY, KEY]) assert.deepEqual(await nest('127.0.0.1', key), { acks: 1, error: undefined });
  });
});

describe('throttling: after too many wrong secrets an address is refused on every surface, others are not', () => {
  it('short recognition: 429 STT008 with Retry-After, even for the right secret, until the window passes', async () => {
    const attacker = '127.0.0.2';
    for (let i = 0; i < MAX_FAILURES; i++) {
      const a = await stt(attacker, WRONG(i));
      assert.equal(a.status, 401);
      assert.equal(a.headers['retry-after'], undefined);
    }
    assert.deepEqual(blocked.splice(0), [attacker], 'the block is reported once');
    const refused = await stt(attacker, KEY);
    assert.equal(refused.status, 429);
    assert.deepEqual((refused.body as { error: unknown }).error, { errorCode: 'STT008', message: 'Too Many Failed Authentications' });
    assert.equal(typeof (refused.body as { timestamp: unknown }).timestamp, 'number');
    retryAfter(refused);
    assert.equal((await stt('127.0.0.1', OTHER_KEY)).status, 200, 'a client from another address gets in');
    skewMs += (WINDOW_S + 1) * 1000;
    assert.equal((await stt(attacker, KEY)).status, 200, 'in again once the window has passed');
  });

  it('long-form: 429 ERROR_TOO_MANY_AUTH_FAILURES with Retry-After, InvokeURL paths too; X-Forwarded-For dodges nothing', async () => {
    const attacker = '127.0.0.3';
    for (let i = 0; i < MAX_FAILURES; i++) {
      // No trusted proxy is configured: a header the client writes itself is ignored.
      const a = await longform(attacker, WRONG(i), '', { 'X-Forwarded-For': `198.51.100.${i}` });
      assert.deepEqual([a.status, (a.body as { result: string }).result], [401, 'ERROR_INVALID_SECRET']);
    }
    for (const prefix of ['', '/external/v1/1234/abcd']) {
      const refused = await longform(attacker, KEY, prefix);
      assert.equal(refused.status, 429);
      const body = refused.body as { result: string; message: string; token: string };
      assert.equal(body.result, 'ERROR_TOO_MANY_AUTH_FAILURES');
      assert.equal(body.token, '');
      assert.match(body.message, new RegExp(`retry after ${retryAfter(refused)} s`));
    }
    assert.equal((await longform('127.0.0.1', KEY)).status, 404, 'a client from another address gets in');
  });

  it('admin: 429 TOO_MANY_AUTH_FAILURES with Retry-After', async () => {
    const attacker = '127.0.0.4';
    for (let i = 0; i < MAX_FAILURES; i++) assert.equal((await admin(attacker, { Authorization: `Bearer ${WRONG(i)}` })).status, 401);
    const refused = await admin(attacker, { 'X-CLOVASPEECH-API-KEY': KEY });
    assert.equal(refused.status, 429);
    assert.equal((refused.body as { error: { code: string } }).error.code, 'TOO_MANY_AUTH_FAILURES');
    retryAfter(refused);
    assert.equal((await admin('127.0.0.1', { 'X-CLOVASPEECH-API-KEY': KEY })).status, 200, 'a client from another address gets in');
  });

  it('WebSocket: close 4429 naming the wait', async () => {
    const attacker = '127.0.0.5';
    for (let i = 0; i < MAX_FAILURES; i++) assert.equal((await websocket(attacker, WRONG(i))).code, 4401);
    const refused = await websocket(attacker, KEY);
    assert.equal(refused.code, 4429);
    assert.match(refused.reason, /^Too many failed authentications from this address; retry after (\d+) s$/);
    assert.equal(refused.acks, 0);
    assert.deepEqual(await websocket('127.0.0.1', KEY), { code: 1000, reason: 'done', acks: 1 }, 'a client from another address gets in');
  });

  it('gRPC: RESOURCE_EXHAUSTED with a retry-after trailer', async () => {
    const attacker = '127.0.0.6';
    for (let i = 0; i < MAX_FAILURES; i++) assert.equal((await nest(attacker, WRONG(i))).error?.code, grpc.status.UNAUTHENTICATED);
    const refused = await nest(attacker, KEY);
    assert.equal(refused.error?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(refused.error?.details ?? '', /^Too many failed authentications from this address; retry after \d+ s$/);
    const trailer = Number(refused.error?.metadata.get('retry-after')[0]);
    assert.ok(trailer >= 1 && trailer <= WINDOW_S, `retry-after trailer ${trailer}`);
    assert.equal(refused.acks, 0);
    assert.deepEqual(await nest('127.0.0.1', KEY), { acks: 1, error: undefined }, 'a client from another address gets in');
  });

  it('counts failures on one surface against the others (one gate)', async () => {
    const attacker = '127.0.0.7';
    assert.equal((await stt(attacker, WRONG(0))).status, 401);
    assert.equal((await websocket(attacker, WRONG(1))).code, 4401);
    assert.equal((await nest(attacker, WRONG(2))).error?.code, grpc.status.UNAUTHENTICATED);
    assert.equal((await longform(attacker, KEY)).status, 429);
    assert.equal((await admin(attacker, { 'X-CLOVASPEECH-API-KEY': KEY })).status, 429);
  });

  it('counts, on /metrics, wrong secrets and throttled attempts of every surface, and previous-secret uses by domain', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const value = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('sori_auth_failures_total'), 6 * MAX_FAILURES, 'MAX_FAILURES in each of the six throttling tests');
    assert.equal(value('sori_auth_throttled_total'), 8, 'short 1, long-form 2, admin 1, WebSocket 1, gRPC 1, across surfaces 2');
    assert.equal(value('sori_auth_previous_secret_total\\{domain="general"\\}'), 6, 'short, long-form, admin 2, WebSocket, gRPC');
  });

  it('keeps every key it was sent out of the log', () => {
    const log = server.logText();
    for (const key of [KEY, OLD_KEY, OTHER_KEY, ...Array.from({ length: MAX_FAILURES }, (_, i) => WRONG(i))]) {
      assert.ok(!log.includes(key), `${key} is in the log`);
    }
    assert.match(log, /"client":"127\.0\.0\.5".*stream refused: client throttled/);
  });
});
