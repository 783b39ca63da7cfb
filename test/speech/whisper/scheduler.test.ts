import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PriorityScheduler } from '../../../src/speech/whisper/scheduler.js';
import { EngineBusyError } from '../../../src/speech/engine.js';

/** A task that finishes when the test says so: the scheduler's order is what is under test. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => { open = r; });
  return { promise, open };
}

test('one request per class per worker: a more urgent class starts at once, FIFO within a class', async () => {
  const s = new PriorityScheduler(1, 10);
  const order: string[] = [];
  const first = gate();
  const running = s.run('batch', async () => { await first.promise; order.push('first'); });
  // The worker's batch class is busy: batch work queues, every other class starts beside it (the
  // worker's RunGate then runs the most urgent one's model steps first).
  const short = gate();
  const started: string[] = [];
  const shortRun = s.run('short', async () => { started.push('short1'); await short.promise; order.push('short1'); });
  const queued = [
    s.run('batch', async () => { order.push('batch1'); }),
    s.run('short', async () => { order.push('short2'); }),
    s.run('batch', async () => { order.push('batch2'); }),
  ];
  const stream = s.run('stream', async () => { started.push('stream'); order.push('stream'); });
  assert.equal(s.queued, 3);
  await stream;
  assert.deepEqual(started, ['short1', 'stream']);
  short.open();
  first.open();
  await Promise.all([running, shortRun, ...queued]);
  assert.deepEqual(order.filter((x) => x.startsWith('batch') || x === 'first'), ['first', 'batch1', 'batch2']);
  assert.deepEqual(order.filter((x) => x.startsWith('short')), ['short1', 'short2']);
  assert.equal(s.queued, 0);
  assert.equal(s.running, 0);
});

test('with two workers a class runs on the worker where nothing more urgent runs', async () => {
  const s = new PriorityScheduler(2, 10);
  const g = gate();
  const slots: number[] = [];
  const stream = s.run('stream', async (slot) => { slots.push(slot); await g.promise; });
  const batch = s.run('batch', async (slot) => { slots.push(slot); await g.promise; });
  assert.notEqual(slots[0], slots[1]);
  g.open();
  await Promise.all([stream, batch]);
});

test('refuses at once when the queue is full, but never refuses streaming', async () => {
  const s = new PriorityScheduler(1, 1);
  const g = gate();
  const running = s.run('short', () => g.promise);
  const waiting = s.run('short', async () => 'ok');
  await assert.rejects(s.run('short', async () => 'x'), EngineBusyError);
  // The batch class is free on the worker: a batch request starts instead of queueing...
  const batchRunning = s.run('batch', () => g.promise);
  // ...and the next one finds the queue full.
  await assert.rejects(s.run('batch', async () => 'x'), EngineBusyError);
  const stream = s.run('stream', async () => 'stream ok');
  g.open();
  await running;
  await batchRunning;
  assert.equal(await waiting, 'ok');
  assert.equal(await stream, 'stream ok');
});

test('an aborted waiter leaves the queue; a failing task frees its slot', async () => {
  const s = new PriorityScheduler(1, 5);
  const g = gate();
  const running = s.run('short', () => g.promise);
  const ac = new AbortController();
  const aborted = s.run('short', async () => 'never', ac.signal);
  ac.abort(new Error('client went away'));
  await assert.rejects(aborted, /client went away/);
  assert.equal(s.queued, 0);
  g.open();
  await running;
  await assert.rejects(s.run('short', async () => { throw new Error('boom'); }), /boom/);
  assert.equal(await s.run('short', async () => 'next'), 'next');
});

test('batch N: up to N requests of a class run at once per worker, the next waits', async () => {
  const s = new PriorityScheduler(1, 10, 2);
  const a = gate();
  const started: string[] = [];
  const first = s.run('stream', async () => { started.push('s1'); await a.promise; });
  const second = s.run('stream', async () => { started.push('s2'); await a.promise; });
  const third = s.run('stream', async () => { started.push('s3'); });
  assert.deepEqual(started, ['s1', 's2']);
  assert.equal(s.running, 2);
  assert.equal(s.queued, 1);
  a.open();
  await Promise.all([first, second, third]);
  assert.deepEqual(started, ['s1', 's2', 's3']);
  assert.equal(s.running, 0);
});
