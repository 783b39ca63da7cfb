/**
 * A job accepted with 2xx finishes even when the server is killed with SIGKILL mid-job: the real
 * server process (`src/main.ts`), really killed, then started again on the same data dir. The
 * restarted server resumes the job from its checkpoint and the callback arrives exactly once.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { modelsDir, testdataDir } from '../helpers/media-fixtures.js';
import { freePort } from '../helpers/ports.js';
import { registerSecrets, teeOutput } from '../helpers/test-logs.js';

const REPO = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const KEY = 'crash-test-secret';
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));


function startSori(dataDir: string, port: number): { child: ChildProcess; log: () => string } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SORI_')));
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(REPO, 'src/main.ts')], {
    cwd: dataDir,
    env: {
      ...clean,
      SORI_DATA_DIR: dataDir,
      SORI_MODELS_DIR: modelsDir(),
      SORI_API_KEY: KEY,
      SORI_PORT: String(port),
      SORI_GRPC_PORT: '0',
      SORI_HOST: '127.0.0.1',
      SORI_BEAM_SIZE: '1',
      SORI_ALLOW_PRIVATE_URLS: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  registerSecrets('domain', KEY);
  teeOutput('crash-recovery-stdout', child.stdout);
  teeOutput('crash-recovery-stderr', child.stderr);
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { child, log: () => out };
}

async function waitHealthy(base: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await pause(200);
  }
  throw new Error('server did not become healthy');
}

/**
 * Uploads the 3-minute dialogue as an async job with a callback, and returns its token once the
 * job is visibly under way (some windows done), not before it starts: when a test kills something.
 */
async function startJobAndWaitForProgress(base: string): Promise<string> {
  const form = new FormData();
  form.append('media', new Blob([await readFile(path.join(testdataDir(), 'ko/dialog_etts_lmy_kih_3min.flac'))]), 'dialog.flac');
  form.append('params', JSON.stringify({ language: 'ko-KR', callback: callbackUrl }));
  const accepted = (await (await fetch(`${base}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY }, body: form })).json()) as Record<string, unknown>;
  assert.equal(accepted.result, 'SUCCEEDED');
  const token = String(accepted.token);
  let progress = 0;
  for (let i = 0; i < 600 && progress < 20; i++) {
    const s = (await (await fetch(`${base}/recognizer/${token}`, { headers: { 'X-CLOVASPEECH-API-KEY': KEY } })).json()) as Record<string, unknown>;
    progress = Number(s.progress ?? 0);
    await pause(100);
  }
  assert.ok(progress >= 20 && progress < 100, `progress ${progress} when killed`);
  return token;
}

let tmp: string;
let receiver: Server;
let callbackUrl: string;
const callbacks: Array<{ token: string; body: Record<string, unknown> }> = [];

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'sori-crash-'));
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      callbacks.push({ token: String(body.token), body });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/cb`;
});

after(async () => {
  receiver?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('crash recovery', () => {
  it('SIGKILL mid-job: the restarted server resumes the job; it completes once and calls back once', { timeout: 600_000 }, async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let sori = startSori(tmp, port);
    try {
      await waitHealthy(base);
      const token = await startJobAndWaitForProgress(base);
      sori.child.kill('SIGKILL');
      await new Promise((r) => sori.child.once('close', r));
      assert.equal(callbacks.length, 0);

      sori = startSori(tmp, port);
      await waitHealthy(base);
      for (let i = 0; i < 3000 && callbacks.length === 0; i++) await pause(100);
      await pause(1500);
      assert.equal(callbacks.length, 1, 'exactly one callback');
      const result = callbacks[0].body;
      assert.equal(callbacks[0].token, token);
      assert.equal(result.result, 'COMPLETED');
      assert.match(sori.log(), /resuming jobs a previous process left unfinished/);
      assert.match(sori.log(), /"attempt":2,"source":"upload","resumeAtMs":[1-9]/, 'resumed from a checkpoint, not from the start');
      // The resumed result covers the whole file once: ordered, non-overlapping segments to the end.
      const segments = result.segments as Array<{ start: number; end: number; text: string }>;
      for (let i = 1; i < segments.length; i++) assert.ok(segments[i].start >= segments[i - 1].end, `segment ${i} overlaps`);
      assert.ok(segments[0].start < 5000 && segments.at(-1)!.end > 175_000);
      assert.ok(String(result.text).length > 300);
    } finally {
      sori.child.kill('SIGKILL');
    }
  });

  it('SIGKILL of the inference process mid-job: the server resumes the job at once from its checkpoint; it completes once', { timeout: 600_000 }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sori-crash-inference-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const sori = startSori(dir, port);
    const before = callbacks.length;
    try {
      await waitHealthy(base);
      const token = await startJobAndWaitForProgress(base);
      const inference = childrenOf(sori.child.pid!).filter((p) => /whisper\/worker/.test(p.cmdline));
      assert.equal(inference.length, 1, JSON.stringify(inference));
      process.kill(inference[0].pid, 'SIGKILL');

      for (let i = 0; i < 3000 && callbacks.length === before; i++) await pause(100);
      await pause(1500);
      const mine = callbacks.slice(before);
      assert.equal(mine.length, 1, 'exactly one callback');
      assert.equal(mine[0].token, token);
      assert.equal(mine[0].body.result, 'COMPLETED');
      assert.equal(sori.child.exitCode, null, 'the server kept running');
      assert.match(sori.log(), /the inference process died under the job/);
      assert.match(sori.log(), /"attempt":2,"source":"upload","resumeAtMs":[1-9]/, 'resumed from a checkpoint, not from the start');
      const segments = mine[0].body.segments as Array<{ start: number; end: number }>;
      for (let i = 1; i < segments.length; i++) assert.ok(segments[i].start >= segments[i - 1].end, `segment ${i} overlaps`);
      assert.ok(segments[0].start < 5000 && segments.at(-1)!.end > 175_000);
    } finally {
      sori.child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** The direct children of a process, from /proc (Linux). */
function childrenOf(pid: number): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The fourth field, after the parenthesised command name (which may hold spaces).
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(entry), cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
