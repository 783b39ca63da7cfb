/**
 * scripts/cluster.sh for real: PostgreSQL, the S3-compatible server and two Sori nodes on this
 * machine, sharing one job store. A job accepted by node 1 is seen and answered by node 2, and
 * still after node 1 is SIGKILLed; `start` brings node 1 back; the node running a job is
 * SIGKILLed and the other takes the job over from its checkpoint once the lease lapses, calling
 * back once; `down` stops everything.
 *
 * The nodes run in cluster mode (uploads in the bucket), each with its own data directory. Both
 * run on this machine, so a node could read another's files: the shared-media test deletes node
 * 1's data directory before node 2 runs the job node 1 accepted, and node 1 runs no jobs
 * (`SORI_JOB_WORKERS=0`) and waits for node 2's NOTIFY alone (a one-hour safety poll) to answer a
 * sync request.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { CLUSTER_SH, runClusterSh, twoFreePorts } from '../../bench/lib/cluster-sh.js';
import { modelsDir, testdataDir } from '../helpers/media-fixtures.js';
import { logSink, registerSecrets } from '../helpers/test-logs.js';

const run = promisify(execFile);
const KEY = 'cluster-test-secret-0123';
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let env: NodeJS.ProcessEnv;
let nodes: Array<{ base: string; pid: number }> = [];
let receiver: Server;
let callbackUrl: string;
const callbacks: Array<{ token: string; result: string }> = [];

function cluster(...args: string[]): Promise<string> {
  return clusterWith({}, ...args);
}

/** cluster.sh with extra environment variables (they reach the nodes it starts). */
function clusterWith(extra: Record<string, string>, ...args: string[]): Promise<string> {
  return runClusterSh(args, { ...env, ...extra });
}

async function get(base: string, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, { headers: { 'X-CLOVASPEECH-API-KEY': KEY } });
  return (await res.json()) as Record<string, unknown>;
}

/** The nodes' log lines (JSON) that name `token`. */
async function jobLines(token: string): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for (const name of await readdir(dir)) {
    if (!/^node\d+\.log$/.test(name)) continue;
    for (const line of (await readFile(join(dir, name), 'utf8')).split('\n')) {
      if (!line.includes(token)) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  }
  return out;
}

/** Every file under `path` (recursively), relative to it; [] if it does not exist. */
async function filesUnder(path: string): Promise<string[]> {
  const entries = await readdir(path, { recursive: true }).catch(() => [] as string[]);
  const files: string[] = [];
  for (const e of entries) if ((await stat(join(path, e)).catch(() => undefined))?.isFile()) files.push(e);
  return files.sort();
}

/** The uploads waiting in the bucket (versitygw's posix backend keeps a bucket as a directory). */
const bucketMedia = () => filesUnder(join(dir, 's3', 'sori-cluster', 'sori-media'));

async function uploadJfk(base: string, completion: 'sync' | 'async'): Promise<Response> {
  const form = new FormData();
  form.append('media', new Blob([await readFile(join(testdataDir(), 'en/jfk.flac'))]), 'jfk.flac');
  form.append('params', JSON.stringify({ language: 'en-US', completion }));
  return fetch(`${base}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY }, body: form });
}

async function isUp(base: string): Promise<boolean> {
  return fetch(`${base}/healthz`).then((r) => r.ok, () => false);
}

/** Node I's pid from the line `cluster.sh start I` printed. */
function startedPid(line: string): number {
  const m = / pid (\d+)$/.exec(line.trim());
  assert.ok(m, line);
  return Number(m[1]);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sori-cluster-'));
  registerSecrets('domain', KEY);
  receiver = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      callbacks.push({ token: String(body.token), result: String(body.result) });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/cb`;
  // A short lease, so a killed node's job is taken over within seconds; callbacks to loopback.
  await writeFile(join(dir, 'sori.yaml'), 'jobs:\n  leaseSeconds: 4\n');
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
    SORI_ALLOW_PRIVATE_URLS: 'true',
  };
});

after(async () => {
  receiver?.close();
  await cluster('down').catch(() => undefined);
  // The nodes' logs join the run's, for the scan for leaked secrets (the database's and the bucket's too).
  registerSecrets('postgres', await readFile(join(dir, 'postgres', 'password'), 'utf8').then((s) => s.trim(), () => undefined));
  registerSecrets('object storage', await readFile(join(dir, 's3-secret'), 'utf8').then((s) => s.trim(), () => undefined));
  for (const name of await readdir(dir).catch(() => [])) {
    if (name.endsWith('.log')) logSink(`cluster-${name}`)(await readFile(join(dir, name), 'utf8'));
  }
  await rm(dir, { recursive: true, force: true });
});

describe('scripts/cluster.sh', () => {
  it('runs two nodes on one PostgreSQL: a job accepted by node 1 is answered by node 2, through a SIGKILL of node 1', { timeout: 900_000 }, async () => {
    const lines = (await cluster('up', '2')).trim().split('\n');
    assert.equal(lines.length, 2, lines.join('\n'));
    nodes = lines.map((line, i) => {
      const m = /^node(\d) (http:\/\/127\.0\.0\.1:(\d+)) grpc 127\.0\.0\.1:(\d+) pid (\d+)$/.exec(line);
      assert.ok(m, `node line: ${line}`);
      assert.equal(Number(m[1]), i + 1);
      assert.equal(Number(m[3]), Number(env.SORI_PORT) + i);
      assert.equal(Number(m[4]), Number(env.SORI_GRPC_PORT) + i);
      return { base: m[2], pid: Number(m[5]) };
    });

    const form = new FormData();
    form.append('media', new Blob([await readFile(join(testdataDir(), 'en/jfk.flac'))]), 'jfk.flac');
    form.append('params', JSON.stringify({ language: 'en-US', completion: 'async' }));
    const accepted = (await (await fetch(`${nodes[0].base}/recognizer/upload`, {
      method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY }, body: form,
    })).json()) as Record<string, unknown>;
    assert.equal(accepted.result, 'SUCCEEDED');
    const token = String(accepted.token);

    // Node 2 knows the job from the moment node 1 accepted it: one store.
    const seen = await get(nodes[1].base, `/recognizer/${token}`);
    assert.ok(['WAITING', 'PROCESSING', 'COMPLETED'].includes(String(seen.result)), JSON.stringify(seen));
    let done: Record<string, unknown> = seen;
    for (let i = 0; i < 1200 && done.result !== 'COMPLETED'; i++) {
      await pause(250);
      done = await get(nodes[1].base, `/recognizer/${token}`);
    }
    assert.equal(done.result, 'COMPLETED', JSON.stringify(done));
    assert.match(String(done.text), /ask not what your country can do for you/i);

    await cluster('kill', '1');
    await assert.rejects(fetch(`${nodes[0].base}/healthz`), 'node 1 is gone');
    assert.deepEqual((await get(nodes[1].base, `/recognizer/${token}`)).text, done.text, 'node 2 answers alone');

    const restarted = (await cluster('start', '1')).trim();
    const again = new RegExp(`^node1 ${nodes[0].base} grpc 127\\.0\\.0\\.1:${env.SORI_GRPC_PORT} pid (\\d+)$`).exec(restarted);
    assert.ok(again, restarted);
    nodes[0].pid = Number(again[1]);
    assert.deepEqual((await get(nodes[0].base, `/recognizer/${token}`)).text, done.text, 'node 1 is back, on the same store');
  });

  it('SIGKILL of the node running a job: the other node takes it over from its checkpoint; it completes and calls back once', { timeout: 900_000 }, async () => {
    assert.equal(nodes.length, 2, 'the cluster of the first test');
    const form = new FormData();
    form.append('media', new Blob([await readFile(join(testdataDir(), 'ko/dialog_etts_lmy_kih_3min.flac'))]), 'dialog.flac');
    form.append('params', JSON.stringify({ language: 'ko-KR', completion: 'async', callback: callbackUrl }));
    const accepted = (await (await fetch(`${nodes[0].base}/recognizer/upload`, {
      method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY }, body: form,
    })).json()) as Record<string, unknown>;
    assert.equal(accepted.result, 'SUCCEEDED');
    const token = String(accepted.token);

    // Kill whichever node claimed it, once it is visibly under way (a checkpoint written).
    let progress = 0;
    for (let i = 0; i < 2400 && progress < 20; i++) {
      progress = Number((await get(nodes[1].base, `/recognizer/${token}`)).progress ?? 0);
      await pause(100);
    }
    assert.ok(progress >= 20 && progress < 100, `progress ${progress} when killed`);
    const started = (await jobLines(token)).filter((l) => l.msg === 'job started');
    assert.equal(started.length, 1);
    const victim = nodes.findIndex((n) => n.pid === started[0].pid);
    assert.ok(victim >= 0, `the job runs on one of the nodes (pid ${String(started[0].pid)})`);
    const survivor = nodes[1 - victim];
    await cluster('kill', String(victim + 1));
    await assert.rejects(fetch(`${nodes[victim].base}/healthz`));

    let done: Record<string, unknown> = {};
    for (let i = 0; i < 6000; i++) {
      done = await get(survivor.base, `/recognizer/${token}`);
      if (done.result !== 'WAITING' && done.result !== 'PROCESSING') break;
      await pause(100);
    }
    assert.equal(done.result, 'COMPLETED', JSON.stringify(done).slice(0, 300));
    for (let i = 0; i < 100 && callbacks.filter((c) => c.token === token).length === 0; i++) await pause(100);
    await pause(1500);
    assert.deepEqual(callbacks.filter((c) => c.token === token), [{ token, result: 'COMPLETED' }], 'one callback');

    const lines = await jobLines(token);
    const resumed = lines.filter((l) => l.msg === 'job started' && l.pid === survivor.pid);
    assert.equal(resumed.length, 1, 'taken over once, by the surviving node');
    assert.equal(resumed[0].attempt, 2);
    assert.ok(Number(resumed[0].resumeAtMs) > 0, 'resumed from a checkpoint, not from the start');
    assert.equal(lines.filter((l) => l.msg === 'job completed').length, 1, 'completed once');
    const segments = done.segments as Array<{ start: number; end: number }>;
    for (let i = 1; i < segments.length; i++) assert.ok(segments[i].start >= segments[i - 1].end, `segment ${i} overlaps`);
    assert.ok(segments.at(-1)!.end > 175_000, 'the whole file');
  });

  it('PostgreSQL crashes and comes back: the nodes answer 503 meanwhile and recover by themselves', { timeout: 600_000 }, async () => {
    // The node killed by the previous test stays down; the other runs on.
    const up: typeof nodes = [];
    for (const n of nodes) if (await fetch(`${n.base}/healthz`).then(() => true, () => false)) up.push(n);
    assert.ok(up.length >= 1, 'a node is running');
    const postgresScript = resolve(CLUSTER_SH, '..', 'postgres.sh');
    const pgDir = join(dir, 'postgres');
    await run('bash', [postgresScript, 'stop', pgDir, 'immediate'], { env });
    const refused = await fetch(`${up[0].base}/recognizer/upload`, {
      method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY },
      body: (() => {
        const f = new FormData();
        f.append('media', new Blob([new Uint8Array(1000)]), 'x.flac');
        f.append('params', JSON.stringify({ language: 'en-US', completion: 'async' }));
        return f;
      })(),
    });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '5');
    await run('bash', [postgresScript, 'start', pgDir], { env });

    // No node restarted: each finds PostgreSQL again on its own and runs a new job.
    for (const n of up) {
      const form = new FormData();
      form.append('media', new Blob([await readFile(join(testdataDir(), 'en/jfk.flac'))]), 'jfk.flac');
      form.append('params', JSON.stringify({ language: 'en-US', completion: 'sync' }));
      let res: Response | undefined;
      for (let i = 0; i < 50; i++) {
        res = await fetch(`${n.base}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY }, body: form });
        if (res.status !== 503) break;
        await pause(200);
      }
      const body = (await res!.json()) as Record<string, unknown>;
      assert.equal(body.result, 'COMPLETED', JSON.stringify(body).slice(0, 300));
    }
  });

  it('shared media: node 1 (no workers) accepts an upload and is SIGKILLed with its disk wiped; node 2 runs the job from the bucket', { timeout: 900_000 }, async () => {
    // Node 1 takes requests but runs no jobs, and learns of job ends only by NOTIFY.
    await cluster('kill', '1');
    await cluster('kill', '2');
    const node1 = { SORI_JOB_WORKERS: '0', SORI_DATABASE_NOTIFY_FALLBACK_SECONDS: '3600' };
    nodes[0].pid = startedPid(await clusterWith(node1, 'start', '1'));

    const accepted = (await (await uploadJfk(nodes[0].base, 'async')).json()) as Record<string, unknown>;
    assert.equal(accepted.result, 'SUCCEEDED', JSON.stringify(accepted));
    const token = String(accepted.token);
    assert.deepEqual(await bucketMedia(), [token], 'the upload waits in the bucket');
    assert.ok(!(await filesUnder(join(dir, 'node1', 'data', 'media'))).includes(token), 'and not on node 1');
    assert.equal((await get(nodes[0].base, `/recognizer/${token}`)).result, 'WAITING');

    await cluster('kill', '1');
    await rm(join(dir, 'node1', 'data'), { recursive: true, force: true });
    nodes[1].pid = startedPid(await cluster('start', '2'));
    let done: Record<string, unknown> = {};
    for (let i = 0; i < 3000; i++) {
      done = await get(nodes[1].base, `/recognizer/${token}`);
      if (done.result !== 'WAITING' && done.result !== 'PROCESSING') break;
      await pause(100);
    }
    assert.equal(done.result, 'COMPLETED', JSON.stringify(done).slice(0, 300));
    assert.match(String(done.text), /ask not what your country can do for you/i);
    const started = (await jobLines(token)).filter((l) => l.msg === 'job started');
    assert.deepEqual(started.map((l) => l.pid), [nodes[1].pid], 'run by node 2 alone');
    for (let i = 0; i < 100 && (await bucketMedia()).length > 0; i++) await pause(100);
    assert.deepEqual(await bucketMedia(), [], 'removed from the bucket once the job ended');
    assert.deepEqual(await filesUnder(join(dir, 'node2', 'data', 'media')), [], 'and from node 2\'s disk');
  });

  it('every node answers everything: a sync request on node 1 (no workers) is run by node 2 and answered through NOTIFY', { timeout: 600_000 }, async () => {
    const node1 = { SORI_JOB_WORKERS: '0', SORI_DATABASE_NOTIFY_FALLBACK_SECONDS: '3600' };
    await cluster('kill', '1');
    nodes[0].pid = startedPid(await clusterWith(node1, 'start', '1'));
    if (!(await isUp(nodes[1].base))) nodes[1].pid = startedPid(await cluster('start', '2'));
    // Node 1 re-reads the job once an hour: within this test's time only node 2's NOTIFY ends its wait.
    const res = await uploadJfk(nodes[0].base, 'sync');
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(body).slice(0, 300));
    assert.equal(body.result, 'COMPLETED');
    assert.match(String(body.text), /ask not what your country can do for you/i);
    const lines = await jobLines(String(body.token));
    assert.deepEqual(lines.filter((l) => l.msg === 'job started').map((l) => l.pid), [nodes[1].pid], 'run by node 2');
    assert.deepEqual(lines.filter((l) => l.msg === 'job accepted').map((l) => l.pid), [nodes[0].pid], 'accepted by node 1');
  });

  it('the object store down during an upload: 503 ERROR_SERVER_BUSY with Retry-After, and no job', { timeout: 120_000 }, async () => {
    const up: typeof nodes = [];
    for (const n of nodes) if (await isUp(n.base)) up.push(n);
    assert.ok(up.length >= 1, 'a node is running');
    const before = (await get(up[0].base, '/recognizer?limit=100')).jobs as unknown[];
    process.kill(Number(await readFile(join(dir, 's3.pid'), 'utf8')), 'SIGKILL');
    for (let i = 0; i < 50 && (await fetch(`http://127.0.0.1:${(await readFile(join(dir, 's3.port'), 'utf8')).trim()}/`).then(() => true, () => false)); i++) await pause(100);
    for (const node of up) {
      const res = await uploadJfk(node.base, 'async');
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '10');
      assert.deepEqual(await res.json(), { result: 'ERROR_SERVER_BUSY', message: 'the media store is unavailable; nothing was stored, retry later', token: '' });
    }
    assert.deepEqual((await get(up[0].base, '/recognizer?limit=100')).jobs, before, 'no job was created');
  });

  it('down stops every node, the object store and PostgreSQL', { timeout: 120_000 }, async () => {
    await cluster('down');
    for (const node of nodes) await assert.rejects(fetch(`${node.base}/healthz`), `${node.base} stopped`);
    assert.equal(await readFile(join(dir, 's3.pid'), 'utf8').catch(() => 'gone'), 'gone');
    await assert.rejects(readFile(join(dir, 'postgres', 'data', 'postmaster.pid')), 'PostgreSQL stopped');
  });
});
