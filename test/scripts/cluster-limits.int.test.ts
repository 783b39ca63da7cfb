/**
 * Limits that count across the cluster, on scripts/cluster.sh's real nodes: a domain with
 * `maxConcurrentStreams: 1` has one stream in the whole cluster (a WebSocket stream on node 1
 * makes node 2 refuse one by WebSocket and by gRPC); when node 1 is SIGKILLed with its stream
 * open, node 2 refuses until the dead node's slot lease lapses, then accepts; while PostgreSQL is
 * stopped a node's /healthz answers 503 (a load balancer takes it out) and new streams are refused
 * as "try again later" (WebSocket 1013, gRPC UNAVAILABLE); 200 once it is back.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import WebSocket from 'ws';
import { NEST_PROTO } from '../../src/stream/grpc.js';
import { CLUSTER_SH, runClusterSh, twoFreePorts } from '../../bench/lib/cluster-sh.js';
import { modelsDir } from '../helpers/media-fixtures.js';
import { logSink, registerSecrets } from '../helpers/test-logs.js';

const run = promisify(execFile);
const KEY = 'cluster-limits-secret-0123';
const LEASE_SECONDS = 8;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let env: NodeJS.ProcessEnv;
let nodes: Array<{ base: string; grpc: string }> = [];

function cluster(...args: string[]): Promise<string> {
  return runClusterSh(args, env);
}

interface Stream {
  ws: WebSocket;
  /** 'open': the config was acknowledged (the stream holds a slot); else how it was closed. */
  outcome: Promise<{ kind: 'open' } | { kind: 'closed'; code: number; reason: string }>;
}

/** A WebSocket stream that sends its config and waits for the acknowledgement or a close. */
function stream(base: string): Stream {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/recognizer/stream`, { headers: { 'X-CLOVASPEECH-API-KEY': KEY } });
  ws.on('error', () => undefined);
  const outcome = new Promise<{ kind: 'open' } | { kind: 'closed'; code: number; reason: string }>((done) => {
    ws.on('open', () => ws.send(JSON.stringify({ transcription: { language: 'en' } })));
    ws.once('message', () => done({ kind: 'open' }));
    ws.on('close', (code, reason) => done({ kind: 'closed', code, reason: reason.toString() }));
  });
  return { ws, outcome };
}

async function closeStream(s: Stream): Promise<void> {
  if (s.ws.readyState === WebSocket.CLOSED) return;
  const closed = new Promise((r) => s.ws.once('close', r));
  s.ws.close(1000);
  await closed;
}

/** A gRPC stream's first answer or error (its status code). */
async function grpcOutcome(target: string): Promise<{ code: number; details: string } | 'open'> {
  const def = protoLoader.loadSync(NEST_PROTO, { keepCase: true, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { com: { nbp: { cdncp: { nest: { grpc: { proto: { v1: { NestService: grpc.ServiceClientConstructor } } } } } } } };
  const client = new pkg.com.nbp.cdncp.nest.grpc.proto.v1.NestService(target, grpc.credentials.createInsecure()) as unknown as {
    recognize(md: grpc.Metadata): grpc.ClientDuplexStream<unknown, { contents: string }>;
    close(): void;
  };
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${KEY}`);
  const call = client.recognize(md);
  try {
    return await new Promise((done) => {
      call.on('data', () => done('open'));
      call.on('error', (e: grpc.ServiceError) => done({ code: e.code, details: e.details }));
      call.write({ type: 'CONFIG', config: { config: JSON.stringify({ transcription: { language: 'en' } }) } });
    });
  } finally {
    call.cancel();
    client.close();
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sori-cluster-limits-'));
  registerSecrets('domain', KEY);
  await writeFile(
    join(dir, 'sori.yaml'),
    `jobs:\n  leaseSeconds: ${LEASE_SECONDS}\ndomains:\n  - name: general\n    limits:\n      maxConcurrentStreams: 1\n`,
  );
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SORI_')));
  env = {
    ...clean,
    SORI_CLUSTER_DIR: dir,
    SORI_PORT: String(await twoFreePorts()),
    SORI_GRPC_PORT: String(await twoFreePorts()),
    SORI_API_KEY: KEY,
    SORI_MODELS_DIR: modelsDir(),
    SORI_BEAM_SIZE: '1',
    SORI_THREADS: '1',
    SORI_CONFIG: join(dir, 'sori.yaml'),
  };
});

after(async () => {
  await cluster('down').catch(() => undefined);
  registerSecrets('postgres', await readFile(join(dir, 'postgres', 'password'), 'utf8').then((s) => s.trim(), () => undefined));
  registerSecrets('object storage', await readFile(join(dir, 's3-secret'), 'utf8').then((s) => s.trim(), () => undefined));
  for (const name of await readdir(dir).catch(() => [])) {
    if (name.endsWith('.log')) logSink(`cluster-limits-${name}`)(await readFile(join(dir, name), 'utf8'));
  }
  await rm(dir, { recursive: true, force: true });
});

describe('limits across scripts/cluster.sh nodes', () => {
  it('maxConcurrentStreams 1: a stream on node 1 makes node 2 refuse one (WebSocket 4429, gRPC RESOURCE_EXHAUSTED)', { timeout: 900_000 }, async () => {
    const lines = (await cluster('up', '2')).trim().split('\n');
    nodes = lines.map((line) => {
      const m = /^node\d (http:\/\/127\.0\.0\.1:\d+) grpc (127\.0\.0\.1:\d+) pid \d+$/.exec(line);
      assert.ok(m, `node line: ${line}`);
      return { base: m[1], grpc: m[2] };
    });
    assert.equal(nodes.length, 2);

    const first = stream(nodes[0].base);
    assert.deepEqual(await first.outcome, { kind: 'open' });
    assert.deepEqual(await stream(nodes[1].base).outcome, { kind: 'closed', code: 4429, reason: 'Too many channels, the max channel is: 1' });
    assert.deepEqual(await grpcOutcome(nodes[1].grpc), { code: grpc.status.RESOURCE_EXHAUSTED, details: 'Too many channels, the max channel is: 1' });

    // Closed on node 1: node 2 may open one (the release is a DELETE that follows the close).
    await closeStream(first);
    let second: Stream | undefined;
    for (let i = 0; i < 50; i++) {
      const s = stream(nodes[1].base);
      if ((await s.outcome).kind === 'open') {
        second = s;
        break;
      }
      await pause(100);
    }
    assert.ok(second, 'node 2 opens a stream once node 1 closed its own');
    await closeStream(second);
  });

  it('node 1 SIGKILLed with its stream open: node 2 refuses until the lease lapses, then accepts', { timeout: 300_000 }, async (t) => {
    let held: Stream | undefined;
    for (let i = 0; i < 50 && held === undefined; i++) {
      const s = stream(nodes[0].base);
      if ((await s.outcome).kind === 'open') held = s;
      else await pause(100);
    }
    assert.ok(held, 'a stream open on node 1');
    await cluster('kill', '1');
    const killedAt = Date.now();
    const refused = await stream(nodes[1].base).outcome;
    const refusedAfter = Date.now() - killedAt;
    // Refused while the dead node's slot is leased (unless this machine stalled past the lease).
    if (refusedAfter < LEASE_SECONDS * 1000 - 1000) assert.deepEqual(refused, { kind: 'closed', code: 4429, reason: 'Too many channels, the max channel is: 1' });

    let accepted: Stream | undefined;
    for (let i = 0; i < 240 && accepted === undefined; i++) {
      const s = stream(nodes[1].base);
      if ((await s.outcome).kind === 'open') accepted = s;
      else await pause(250);
    }
    assert.ok(accepted, 'node 2 accepts a stream once the dead node stopped counting');
    const after = Date.now() - killedAt;
    t.diagnostic(`lease ${LEASE_SECONDS} s: node 2 accepted ${after} ms after the SIGKILL of node 1`);
    assert.ok(after >= refusedAfter);
    await closeStream(accepted);
  });

  it('/healthz answers 503 while PostgreSQL is stopped, 200 once it is back', { timeout: 300_000 }, async () => {
    const postgresScript = resolve(CLUSTER_SH, '..', 'postgres.sh');
    const pgDir = join(dir, 'postgres');
    const node = nodes[1];
    assert.equal((await fetch(`${node.base}/healthz`)).status, 200);
    await run('bash', [postgresScript, 'stop', pgDir, 'fast'], { env });
    try {
      const res = await fetch(`${node.base}/healthz`);
      assert.equal(res.status, 503);
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.status, 'error');
      assert.equal(body.store, 'unavailable');
      assert.match(String(body.message), /^job store unavailable: /);
      // A stream cannot be counted: refused as "try again later", not accepted past the limit.
      assert.deepEqual(await stream(node.base).outcome, { kind: 'closed', code: 1013, reason: 'Service unavailable, try again later' });
      assert.deepEqual(await grpcOutcome(node.grpc), { code: grpc.status.UNAVAILABLE, details: 'Service unavailable, try again later' });
    } finally {
      await run('bash', [postgresScript, 'start', pgDir], { env });
    }
    let status = 0;
    for (let i = 0; i < 80 && status !== 200; i++) {
      status = (await fetch(`${node.base}/healthz`)).status;
      if (status !== 200) await pause(250);
    }
    assert.equal(status, 200);
  });
});
