/**
 * scripts/cluster.sh for real: PostgreSQL, the S3-compatible server and two Sori nodes on this
 * machine, sharing one job store. A job accepted by node 1 is seen and answered by node 2, and
 * still after node 1 is SIGKILLed; `start` brings node 1 back; `down` stops everything.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { modelsDir, testdataDir } from '../helpers/media-fixtures.js';
import { freePort } from '../helpers/ports.js';
import { logSink, registerSecrets } from '../helpers/test-logs.js';

const run = promisify(execFile);
const SCRIPT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'scripts', 'cluster.sh');
const KEY = 'cluster-test-secret-0123';
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let env: NodeJS.ProcessEnv;

async function cluster(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('bash', [SCRIPT, ...args], { env, timeout: 600_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`cluster.sh ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** A port p with p + 1 free as well (two nodes on consecutive ports). */
async function twoFreePorts(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p < 65535 && (await portFree(p + 1))) return p;
  }
}

async function portFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((r) => {
    const s = createServer();
    s.once('error', () => r(false));
    s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
  });
}

async function get(base: string, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, { headers: { 'X-CLOVASPEECH-API-KEY': KEY } });
  return (await res.json()) as Record<string, unknown>;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sori-cluster-'));
  registerSecrets('domain', KEY);
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
  };
});

after(async () => {
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
    const nodes = lines.map((line, i) => {
      const m = /^node(\d) (http:\/\/127\.0\.0\.1:(\d+)) grpc 127\.0\.0\.1:(\d+) pid (\d+)$/.exec(line);
      assert.ok(m, `node line: ${line}`);
      assert.equal(Number(m[1]), i + 1);
      assert.equal(Number(m[3]), Number(env.SORI_PORT) + i);
      assert.equal(Number(m[4]), Number(env.SORI_GRPC_PORT) + i);
      return { base: m[2] };
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
    assert.match(restarted, new RegExp(`^node1 ${nodes[0].base} grpc 127\\.0\\.0\\.1:${env.SORI_GRPC_PORT} pid \\d+$`));
    assert.deepEqual((await get(nodes[0].base, `/recognizer/${token}`)).text, done.text, 'node 1 is back, on the same store');

    await cluster('down');
    for (const node of nodes) await assert.rejects(fetch(`${node.base}/healthz`), `${node.base} stopped`);
  });
});
