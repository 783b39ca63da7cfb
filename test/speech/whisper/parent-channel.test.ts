/**
 * The inference process's sends to a parent that died (SIGKILL): they end the process quietly
 * instead of crashing it with an unhandled 'error' event (EPIPE), which the crash soak caught in
 * the server's log after a kill.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parentSender, type ParentChannel } from '../../../src/speech/whisper/parent-channel.js';

const errno = (code: string) => Object.assign(new Error(`write ${code}`), { code });

test('a send failing because the parent is gone calls onGone instead of throwing', () => {
  for (const code of ['EPIPE', 'ERR_IPC_CHANNEL_CLOSED']) {
    const channel: ParentChannel = { send: (_m, _h, _o, cb) => (cb(errno(code)), false) };
    const gone: string[] = [];
    parentSender(channel, (err) => gone.push((err as NodeJS.ErrnoException).code ?? ''))({ type: 'ready' });
    assert.deepEqual(gone, [code]);
  }
});

test('a send that succeeds, or a process without a channel, calls nothing', () => {
  const gone: unknown[] = [];
  const sent: unknown[] = [];
  parentSender({ send: (m, _h, _o, cb) => (sent.push(m), cb(null), true) }, (e) => gone.push(e))({ n: 1 });
  parentSender({}, (e) => gone.push(e))({ n: 2 });
  assert.deepEqual(sent, [{ n: 1 }]);
  assert.deepEqual(gone, []);
});

test('any other send failure is still thrown', () => {
  const channel: ParentChannel = { send: (_m, _h, _o, cb) => (cb(errno('ERR_SOMETHING_ELSE')), false) };
  assert.throws(() => parentSender(channel, () => assert.fail('not a dead parent'))({}), /ERR_SOMETHING_ELSE/);
});

/**
 * A real parent SIGKILLed under a child that keeps sending: with the helper the child ends with
 * code 0 and says nothing on stderr; with a plain process.send it crashes (the old behaviour).
 */
async function killParentUnder(mode: 'helper' | 'plain'): Promise<{ stdout: string; stderr: string }> {
  const child = fileURLToPath(new URL('./fixtures/ipc-child.ts', import.meta.url));
  // The middle process forks the child with an IPC channel, passing it this process's stdout and stderr.
  const middle = spawn(
    process.execPath,
    ['-e', `require('node:child_process').fork(${JSON.stringify(child)}, [${JSON.stringify(mode)}], { execArgv: ['--import', ${JSON.stringify(import.meta.resolve('tsx'))}], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }).on('message', () => {})`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  middle.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // The pipes stay open until the child, which holds them too, has exited.
  const closed = new Promise<void>((resolve) => middle.stdout.on('end', () => resolve()));
  await new Promise<void>((resolve) =>
    middle.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('sending')) resolve();
    }),
  );
  await new Promise((r) => setTimeout(r, 50));
  middle.kill('SIGKILL');
  await closed;
  await new Promise((r) => setTimeout(r, 50));
  return { stdout, stderr };
}

test('the child of a SIGKILLed parent exits quietly through the helper', { timeout: 30_000 }, async () => {
  const helper = await killParentUnder('helper');
  assert.match(helper.stdout, /parent gone/);
  assert.equal(helper.stderr, '');
  const plain = await killParentUnder('plain');
  assert.doesNotMatch(plain.stdout, /parent gone/);
  assert.match(plain.stderr, /Unhandled 'error' event|EPIPE|ERR_IPC_CHANNEL_CLOSED/, 'the old way crashes (the regression this guards)');
});
