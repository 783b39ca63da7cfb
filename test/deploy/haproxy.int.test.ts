/**
 * deploy/haproxy.cfg for real in front of two nodes from scripts/cluster.sh: the same file with
 * only its listen addresses and the nodes' addresses rewritten for this machine (no Docker's DNS
 * here). A short recognition over HTTP and a gRPC stream pass through it; a node SIGKILLed is
 * taken out by the /healthz checks, and requests go on through the other without one failing.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { runClusterSh, twoFreePorts } from '../../bench/lib/cluster-sh.js';
import { streamClip, toPcm16 } from '../../bench/lib/stream-client.js';
import { decodeFile } from '../../src/media/decode.js';
import { freePort } from '../helpers/ports.js';
import { modelsDir, testdataDir } from '../helpers/media-fixtures.js';
import { logSink, registerSecrets } from '../helpers/test-logs.js';
import { DEPLOY, REPO_ROOT } from './deploy-files.js';

const run = promisify(execFile);
const KEY = 'haproxy-test-secret-0123';
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let env: NodeJS.ProcessEnv;
let haproxy: ChildProcess | undefined;
let haproxyLog = '';
let lbHttp: string;
let lbGrpc: string;

function cluster(...args: string[]): Promise<string> {
  return runClusterSh(args, env);
}

/** deploy/haproxy.cfg with this machine's addresses: the listeners, and nodes 1-2 (node 3 dropped). */
function localConfig(text: string, http: number, grpc: number, httpPort: number, grpcPort: number): string {
  let out = text
    .replace(/^(\s*)bind :8080$/m, `$1bind 127.0.0.1:${http}`)
    .replace(/^(\s*)bind :50051 proto h2$/m, `$1bind 127.0.0.1:${grpc} proto h2`)
    .replace(/^\s*server sori3 .*\n/gm, '');
  for (const i of [1, 2]) {
    out = out
      .replace(new RegExp(`server sori${i} sori${i}:8080$`, 'm'), `server sori${i} 127.0.0.1:${httpPort + i - 1}`)
      .replace(new RegExp(`server sori${i} sori${i}:50051 (.*) port 8080 `, 'm'), `server sori${i} 127.0.0.1:${grpcPort + i - 1} $1 port ${httpPort + i - 1} `);
  }
  assert.doesNotMatch(out, /sori\d:\d+|bind :/, 'every address rewritten');
  return out;
}

async function recognize(base: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}/recog/v1/stt?lang=Eng`, {
    method: 'POST',
    headers: { 'X-CLOVASPEECH-API-KEY': KEY, 'Content-Type': 'application/octet-stream' },
    body: await readFile(join(testdataDir(), 'en/jfk.flac')),
  });
  const body = (await res.json()) as { text?: string };
  return { status: res.status, text: body.text ?? '' };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sori-haproxy-'));
  registerSecrets('domain', KEY);
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SORI_')));
  const httpPort = await twoFreePorts();
  const grpcPort = await twoFreePorts();
  env = {
    ...clean,
    SORI_CLUSTER_DIR: dir,
    SORI_PORT: String(httpPort),
    SORI_GRPC_PORT: String(grpcPort),
    SORI_API_KEY: KEY,
    SORI_MODELS_DIR: modelsDir(),
    SORI_BEAM_SIZE: '1',
    SORI_THREADS: '1',
    // The nodes' settings of deploy/, with the balancer on loopback here.
    SORI_CONFIG: join(dir, 'sori.yaml'),
  };
  await writeFile(env.SORI_CONFIG!, (await readFile(join(DEPLOY, 'sori.yaml'), 'utf8')).replace('[172.28.0.10]', '[127.0.0.1]'));
  await cluster('up', '2');
  const [http, grpc] = [await freePort(), await freePort()];
  lbHttp = `http://127.0.0.1:${http}`;
  lbGrpc = `127.0.0.1:${grpc}`;
  const cfg = join(dir, 'haproxy.cfg');
  await writeFile(cfg, localConfig(await readFile(join(DEPLOY, 'haproxy.cfg'), 'utf8'), http, grpc, httpPort, grpcPort));
  haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  haproxy.stdout!.on('data', (c: Buffer) => (haproxyLog += c.toString()));
  haproxy.stderr!.on('data', (c: Buffer) => (haproxyLog += c.toString()));
  for (let i = 0; i < 100; i++) {
    if ((await fetch(`${lbHttp}/lb-health`).then((r) => r.status, () => 0)) === 200) break;
    await pause(200);
  }
  // The first health checks (every 2 s) have passed on both nodes.
  await pause(5000);
});

after(async () => {
  haproxy?.kill('SIGTERM');
  await cluster('down').catch(() => undefined);
  registerSecrets('postgres', await readFile(join(dir, 'postgres', 'password'), 'utf8').then((s) => s.trim(), () => undefined));
  registerSecrets('object storage', await readFile(join(dir, 's3-secret'), 'utf8').then((s) => s.trim(), () => undefined));
  logSink('haproxy.log')(haproxyLog);
  for (const name of ['node1.log', 'node2.log']) logSink(`haproxy-cluster-${name}`)(await readFile(join(dir, name), 'utf8').catch(() => ''));
  await rm(dir, { recursive: true, force: true });
});

describe('deploy/haproxy.cfg in front of two nodes', () => {
  it('passes HTTP requests to both nodes and a gRPC stream through HTTP/2', { timeout: 300_000 }, async () => {
    assert.equal((await fetch(`${lbHttp}/lb-health`)).status, 200);
    for (let i = 0; i < 4; i++) {
      const r = await recognize(lbHttp);
      assert.equal(r.status, 200);
      assert.match(r.text, /ask not what your country can do for you/i);
    }
    const pcm = toPcm16((await decodeFile(join(testdataDir(), 'en/jfk.flac'))).pcm);
    const stream = await streamClip(lbGrpc, KEY, pcm, 'en', 100);
    assert.equal(stream.error, null);
    // Streaming finals end at pauses, with their own punctuation.
    assert.match(stream.text.toLowerCase().replace(/[^a-z ]/g, ''), /ask not what your country can do for you/);
    // Both nodes served requests through it (leastconn, one at a time: they alternate).
    const served = new Set([...haproxyLog.matchAll(/sori_http\/(sori\d)/g)].map((m) => m[1]));
    assert.deepEqual([...served].sort(), ['sori1', 'sori2'], haproxyLog.slice(-2000));
  });

  it('a node SIGKILLed: requests go on through the other without one failing', { timeout: 300_000 }, async () => {
    await cluster('kill', '1');
    // At once, before the health checks notice: a refused connection is sent to the other node.
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      statuses.push((await fetch(`${lbHttp}/healthz`)).status);
      await pause(250);
    }
    assert.deepEqual(statuses, Array(20).fill(200));
    const r = await recognize(lbHttp);
    assert.equal(r.status, 200);
    assert.match(r.text, /ask not/i);
    assert.match(haproxyLog, /sori1 is DOWN/);
  });
});
