import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { PendingCalls } from '../../src/speech/worker-rpc.js';

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  void p.then(() => { done = true; }, () => { done = true; });
  await new Promise((r) => setImmediate(r));
  return done;
};

test('ids count up; each reply settles its own request, in any order', async () => {
  const calls = new PendingCalls<string>();
  const a = calls.open();
  const b = calls.open();
  const c = calls.open();
  assert.deepEqual([a.id, b.id, c.id], [1, 2, 3]);
  assert.equal(calls.size, 3);
  assert.equal(calls.resolve(b.id, 'two'), true);
  assert.equal(calls.reject(c.id, new Error('three failed')), true);
  assert.equal(calls.resolve(a.id, 'one'), true);
  assert.equal(await a.reply, 'one');
  assert.equal(await b.reply, 'two');
  await assert.rejects(c.reply, /three failed/);
  assert.equal(calls.size, 0);
});

test('a reply for an id not in flight (settled twice, never opened) is ignored', async () => {
  const calls = new PendingCalls<number>();
  const a = calls.open();
  assert.equal(calls.resolve(a.id, 1), true);
  assert.equal(calls.resolve(a.id, 2), false);
  assert.equal(calls.reject(a.id, new Error('late')), false);
  assert.equal(calls.resolve(99, 3), false);
  assert.equal(await a.reply, 1);
});

test('rejectAll fails every request in flight with the same error; later replies are ignored', async () => {
  const calls = new PendingCalls<number>();
  const a = calls.open();
  const b = calls.open();
  const gone = new Error('worker exited (code 1)');
  calls.rejectAll(gone);
  assert.equal(calls.size, 0);
  await assert.rejects(a.reply, (e) => e === gone);
  await assert.rejects(b.reply, (e) => e === gone);
  assert.equal(calls.resolve(a.id, 1), false);
  // Ids keep counting across a restart of the worker behind the table.
  assert.equal(calls.open().id, 3);
});

test('onBusy when the table stops being empty, onIdle when it empties again (by reply or rejectAll)', async () => {
  const log: string[] = [];
  const calls = new PendingCalls<number>({ onBusy: () => log.push('busy'), onIdle: () => log.push('idle') });
  const a = calls.open();
  const b = calls.open();
  calls.resolve(a.id, 1);
  assert.deepEqual(log, ['busy']);
  calls.resolve(b.id, 2);
  assert.deepEqual(log, ['busy', 'idle']);
  calls.resolve(b.id, 2); // unknown now: no second idle
  calls.rejectAll(new Error('nothing in flight')); // empty already: no idle
  assert.deepEqual(log, ['busy', 'idle']);
  const c = calls.open();
  calls.rejectAll(new Error('closed'));
  await assert.rejects(c.reply, /closed/);
  assert.deepEqual(log, ['busy', 'idle', 'busy', 'idle']);
  await Promise.all([a.reply, b.reply]);
});

test('abort tells the worker once, by id; the request still settles with the worker\'s reply', async () => {
  const calls = new PendingCalls<string>();
  const ac = new AbortController();
  const told: number[] = [];
  calls.open(); // another request, not aborted
  const { id, reply } = calls.open({ signal: ac.signal, onAbort: (i) => told.push(i) });
  ac.abort();
  ac.abort();
  assert.deepEqual(told, [id]);
  assert.equal(await settled(reply), false, 'abort alone does not settle the request');
  calls.reject(id, new Error('aborted by the worker'));
  await assert.rejects(reply, /aborted by the worker/);
});

test('once a request settles, aborting its signal no longer reaches the worker', async () => {
  const calls = new PendingCalls<string>();
  const ac = new AbortController();
  let told = 0;
  const a = calls.open({ signal: ac.signal, onAbort: () => told++ });
  calls.resolve(a.id, 'done');
  const b = calls.open({ signal: ac.signal, onAbort: () => told++ });
  calls.rejectAll(new Error('closed'));
  ac.abort();
  assert.equal(told, 0);
  assert.equal(await a.reply, 'done');
  await assert.rejects(b.reply, /closed/);
});

test('with a real worker thread: replies by id, and a crash fails what is still in flight', async () => {
  // Echoes { id, n } as { id, doubled }; message n < 0 makes the worker exit with code 3.
  const src = `
    const { parentPort } = require('node:worker_threads');
    parentPort.on('message', (m) => {
      if (m.n < 0) process.exit(3);
      setTimeout(() => parentPort.postMessage({ id: m.id, doubled: m.n * 2 }), 20 - m.n);
    });`;
  const worker = new Worker(src, { eval: true });
  const calls = new PendingCalls<number>({ onBusy: () => worker.ref(), onIdle: () => worker.unref() });
  worker.unref();
  worker.on('message', (m: { id: number; doubled: number }) => calls.resolve(m.id, m.doubled));
  worker.on('exit', (code) => calls.rejectAll(new Error(`worker exited (code ${code})`)));
  const send = (n: number): Promise<number> => {
    const { id, reply } = calls.open();
    worker.postMessage({ id, n });
    return reply;
  };
  // Replies arrive in reverse order of the requests (shorter delay for larger n).
  assert.deepEqual(await Promise.all([send(1), send(5), send(10)]), [2, 10, 20]);
  const slow = send(0);
  const crash = send(-1);
  await assert.rejects(slow, /worker exited \(code 3\)/);
  await assert.rejects(crash, /worker exited \(code 3\)/);
  assert.equal(calls.size, 0);
});
