/**
 * The real process: `node src/main.ts` with env configuration, as an operator runs it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { modelsDir, testdataDir } from './helpers/media-fixtures.js';
import { postStt } from './helpers/server.js';
import { registerSecrets, teeOutput } from './helpers/test-logs.js';

const REPO = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function runMain(env: NodeJS.ProcessEnv, cwd: string): Running {
  // Only what the test sets: no SORI_* from the developer's shell leaks in.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SORI_')));
  // tsx by URL: the working directory is a temp dir without node_modules.
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(REPO, 'src/main.ts')], {
    cwd,
    // gRPC on a free port unless the test names one: 50051 may be taken on a developer's machine.
    env: { ...clean, SORI_GRPC_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  teeOutput('main-stdout', child.stdout);
  // The one line meant to carry a secret: the announcement of the generated one.
  teeOutput('main-stderr', child.stderr, /^sori: generated the API secret/);
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'sori-main-test-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('main', () => {
  it('refuses to boot with a bad config file: the field named, exit code 1', async () => {
    const file = path.join(tmp, 'bad.yaml');
    await writeFile(file, 'domains:\n  - name: general\n    secret: ok\n  - name: other\n    secret: 42\n');
    const run = runMain({ SORI_CONFIG: file }, tmp);
    assert.equal(await run.exit, 1);
    assert.match(run.stderr(), /^config error: domains\[1\]\.secret: expected string/m);
    assert.ok(!run.stderr().includes('    at '), 'a message for the operator, not a stack trace');
  });

  it('listens before the model is ready, serves with the generated secret, keeps it out of the log, stops on SIGTERM', { timeout: 600_000 }, async () => {
    const dataDir = path.join(tmp, 'data');
    const run = runMain(
      {
        SORI_HOST: '127.0.0.1',
        SORI_PORT: '0',
        SORI_DATA_DIR: dataDir,
        SORI_MODELS_DIR: modelsDir(),
        SORI_THREADS: '2',
        SORI_BEAM_SIZE: '1',
      },
      tmp,
    );
    try {
      while (!run.stdout().includes('"sori listening"')) {
        if (run.child.exitCode !== null) assert.fail(`main exited early: ${run.stderr()}`);
        await pause(50);
      }
      const line = run.stdout().split('\n').find((l) => l.includes('"sori listening"'));
      const started = JSON.parse(line ?? '{}') as { port: number; model: string };
      assert.equal(started.model, 'whisper-base');
      const url = `http://127.0.0.1:${started.port}`;

      const secret = (await readFile(path.join(dataDir, 'secret'), 'utf8')).trim();
      registerSecrets('generated', secret);
      const announcements = run.stderr().split('\n').filter((l) => l.includes(secret));
      assert.equal(announcements.length, 1, 'the generated secret is printed once, on stderr');

      let health = await fetch(`${url}/healthz`);
      assert.ok(health.status === 503 || health.status === 200);
      while (health.status !== 200) {
        await pause(100);
        health = await fetch(`${url}/healthz`);
      }

      // The inference process loaded Whisper's weights from data files in the data dir (onnx-external.ts).
      const cached = (await readdir(path.join(dataDir, 'model-cache'))).sort();
      assert.deepEqual(cached.map((f) => f.replace(/-[0-9a-f]{16}\./, '-<hash>.')), [
        'whisper-base.decoder-<hash>.onnx', 'whisper-base.decoder-<hash>.onnx_data',
        'whisper-base.short-encoder-heads-<hash>.onnx', 'whisper-base.short-encoder-heads-<hash>.onnx_data',
      ]);
      assert.ok(!run.stdout().includes('model cache'), 'no warning that the cache was unusable');

      const speech = await readFile(path.join(testdataDir(), 'en/ps_goforward.flac'));
      const answer = await postStt(url, speech, { key: secret, query: 'lang=Eng' });
      assert.equal(answer.status, 200);
      assert.match((answer.body as { text: string }).text.toLowerCase(), /forward/);

      run.child.kill('SIGTERM');
      assert.equal(await run.exit, 0);
      assert.ok(run.stdout().includes('"stopped"'));
      assert.ok(!run.stdout().includes(secret), 'the secret never reaches a log line');
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});
