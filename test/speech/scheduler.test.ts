import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PriorityScheduler } from '../../src/speech/scheduler.js';
import { EngineBusyError } from '../../src/speech/engine.js';

/** A task that finishes when the test says so: the scheduler's order is what is under test. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => { open = r; });
  return { promise, open };
}

test('runs stream before short before batch, FIFO within a class', async () => {
  const s = new PriorityScheduler(1, 10);
  const order: string[] = [];
  const first = gate();
  const running = s.run('batch', async () => { await first.promise; order.push('first'); });
  const all = [
    s.run('batch', async () => { order.push('batch1'); }),
    s.run('short', async () => { order.push('short1'); }),
    s.run('batch', async () => { order.push('batch2'); }),
    s.run('stream', async () => { order.push('stream'); }),
    s.run('short', async () => { order.push('short2'); }),
  ];
  assert.equal(s.queued, 5);
  first.open();
  await Promise.all([running, ...all]);
  assert.deepEqual(order, ['first', 'stream', 'short1', 'short2', 'batch1', 'batch2']);
  assert.equal(s.queued, 0);
  assert.equal(s.running, 0);
});

test('refuses at once when the queue is full, but never refuses streaming', async () => {
  const s = new PriorityScheduler(1, 1);
  const g = gate();
  const running = s.run('short', () => g.promise);
  const waiting = s.run('short', async () => 'ok');
  await assert.rejects(s.run('short', async () => 'x'), EngineBusyError);
  await assert.rejects(s.run('batch', async () => 'x'), EngineBusyError);
  const stream = s.run('stream', async () => 'stream ok');
  g.open();
  await running;
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
