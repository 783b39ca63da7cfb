/**
 * Slow and greedy clients against the real server (buildServer, real fastify and Node HTTP
 * server, real sockets): headers, request and keep-alive timeouts, the minimum body rate, and
 * the cap on connections per client address, shown with sockets bound to 127.0.0.2, 127.0.0.3...
 * No models are loaded: every answer here comes before recognition.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Config, HttpLimits } from '../../src/config.js';
import type { SpeechEngine } from '../../src/speech/engine.js';
import { startServer, testConfig, testDomain, testEngine, type TestServer } from '../helpers/server.js';

const KEY = 'connection-limits-secret';
const domains = [testDomain('general', KEY)];

let engine: SpeechEngine;
const servers: TestServer[] = [];

let brokenModels: string;

before(async () => {
  // A model that cannot load: nothing here needs recognition, and nothing burns CPU loading one.
  brokenModels = await mkdtemp(path.join(os.tmpdir(), 'sori-no-models-'));
  await mkdir(path.join(brokenModels, 'whisper-base', 'onnx'), { recursive: true });
  for (const file of ['encoder_model_quantized.onnx', 'decoder_model_merged_quantized.onnx']) {
    await writeFile(path.join(brokenModels, 'whisper-base', 'onnx', file), 'not a model');
  }
  engine = testEngine({ modelsDir: brokenModels, threads: 1 });
  engine.ready().catch(() => undefined);
});

after(async () => {
  for (const s of servers) await s.close();
  await engine?.close();
  await rm(brokenModels, { recursive: true, force: true });
});

async function serverWith(http: Partial<HttpLimits>): Promise<{ server: TestServer; port: number }> {
  const config: Config = testConfig(domains);
  config.http = { ...config.http, ...http };
  const server = await startServer(engine, domains, { config });
  servers.push(server);
  return { server, port: Number(new URL(server.url).port) };
}

function open(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the server sends until it closes the connection (or `ms` pass: then null). */
function untilClosed(socket: Socket, ms: number): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => resolve(null), ms);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

/** GET /healthz over an existing socket: the status line's code. */
function getOn(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m && text.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve(Number(m[1]));
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed before an answer: ${JSON.stringify(text)}`)));
    socket.write('GET /healthz HTTP/1.1\r\nHost: sori\r\n\r\n');
  });
}

/** GET /healthz from `localAddress` with Node's HTTP client, on a new connection. */
function healthFrom(port: number, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz', localAddress, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('connections per client address', () => {
  it('closes connections beyond the cap from one address at once; other addresses are unaffected', { timeout: 60_000 }, async () => {
    const { server, port } = await serverWith({ maxConnectionsPerAddress: 4 });
    const held = await Promise.all(Array.from({ length: 4 }, () => open(port, '127.0.0.2')));
    // Each of the four is served (503 "loading": no model, but an HTTP answer).
    for (const s of held) assert.equal(await getOn(s), 503);

    const fifth = await open(port, '127.0.0.2');
    const closed = await untilClosed(fifth, 10_000);
    assert.equal(closed, '', 'the fifth connection from 127.0.0.2 is closed without an answer');

    // Another address has its own count: four held connections and fresh requests work.
    const others = await Promise.all(Array.from({ length: 4 }, () => open(port, '127.0.0.3')));
    for (const s of others) assert.equal(await getOn(s), 503);
    assert.equal(await healthFrom(port, '127.0.0.4'), 503);

    // A connection from 127.0.0.2 closing makes room for another.
    held[0].destroy();
    let status = 0;
    for (let attempt = 0; attempt < 50 && status === 0; attempt++) {
      status = await healthFrom(port, '127.0.0.2').catch(() => 0);
      if (status === 0) await sleep(100);
    }
    assert.equal(status, 503, 'a new connection from 127.0.0.2 is served once one closed');

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const refused = /sori_http_connections_closed_total\{reason="per_address_limit"\} (\d+)/.exec(metrics);
    assert.ok(refused !== null && Number(refused[1]) >= 1, 'counted in /metrics');
    for (const s of [...held, ...others]) s.destroy();
  });
});

describe('slow clients', () => {
  let port: number;
  let server: TestServer;

  before(async () => {
    ({ server, port } = await serverWith({
      headersTimeoutSeconds: 1,
      requestTimeoutSeconds: 4,
      minBodyBytesPerSecond: 1000,
      bodyRateWindowSeconds: 1,
      keepAliveTimeoutSeconds: 1,
      maxConnectionsPerAddress: 0,
    }));
  });

  it('answers headers that trickle in with 408 and closes the connection', { timeout: 60_000 }, async () => {
    const socket = await open(port, '127.0.0.5');
    const answer = untilClosed(socket, 20_000);
    socket.write('GET /healthz HTTP/1.1\r\nHost: sori\r\n');
    const drip = setInterval(() => {
      if (!socket.destroyed) socket.write('X-Slow: a\r\n');
    }, 200);
    const text = await answer;
    clearInterval(drip);
    assert.ok(text !== null, 'the server closed the connection');
    assert.match(text, /^HTTP\/1\.1 408 /);
  });

  it('closes a connection that never sends a byte', { timeout: 60_000 }, async () => {
    const socket = await open(port, '127.0.0.5');
    const text = await untilClosed(socket, 20_000);
    assert.ok(text !== null, 'the server closed the idle connection');
  });

  it('cuts a body arriving slower than the minimum rate with 408', { timeout: 60_000 }, async () => {
    const socket = await open(port, '127.0.0.6');
    const answer = untilClosed(socket, 20_000);
    socket.write(
      `POST /recog/v1/stt?lang=Kor HTTP/1.1\r\nHost: sori\r\nX-CLOVASPEECH-API-KEY: ${KEY}\r\n` +
        'Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n',
    );
    // 10 bytes every 100 ms: 100 B/s against a minimum of 1000 B/s.
    const drip = setInterval(() => {
      if (!socket.destroyed) socket.write(Buffer.alloc(10));
    }, 100);
    const text = await answer;
    clearInterval(drip);
    assert.ok(text !== null, 'the server closed the connection');
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.match(text, /slower than 1000 bytes per second/);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /sori_http_connections_closed_total\{reason="slow_body"\} [1-9]/);
  });

  it('ends a request that takes longer than requestTimeout even at an acceptable rate', { timeout: 60_000 }, async () => {
    const socket = await open(port, '127.0.0.7');
    const answer = untilClosed(socket, 30_000);
    socket.write(
      `POST /recog/v1/stt?lang=Kor HTTP/1.1\r\nHost: sori\r\nX-CLOVASPEECH-API-KEY: ${KEY}\r\n` +
        'Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n',
    );
    // 3000 B/s: above the minimum, but 1 MB would take 5 minutes; requestTimeout is 4 s.
    const drip = setInterval(() => {
      if (!socket.destroyed) socket.write(Buffer.alloc(300));
    }, 100);
    const text = await answer;
    clearInterval(drip);
    assert.ok(text !== null, 'the server closed the connection');
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.match(text, /Client Timeout/, "Node's request timeout, not the body rate");
  });

  it('serves a body sent whole at once', { timeout: 60_000 }, async () => {
    // Junk audio: decoding fails (no model needed for that), but the body was received, not cut.
    const res = await fetch(`${server.url}/recog/v1/stt?lang=Kor`, {
      method: 'POST',
      headers: { 'X-CLOVASPEECH-API-KEY': KEY, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(64 * 1024),
    });
    assert.notEqual(res.status, 408);
    await res.arrayBuffer();
  });

  it('closes an idle keep-alive connection after keepAliveTimeout', { timeout: 60_000 }, async () => {
    const socket = await open(port, '127.0.0.8');
    assert.equal(await getOn(socket), 503);
    const text = await untilClosed(socket, 20_000);
    assert.ok(text !== null, 'the server closed the idle keep-alive connection');
  });
});
