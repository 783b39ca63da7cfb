import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunGate } from '../../../src/speech/whisper/run-gate.js';

test('a request waits for its turn while a more urgent one is in flight, then resumes', async () => {
  const gate = new RunGate(4);
  const log: string[] = [];
  gate.enter(3);
  await gate.turn(3); // alone: no wait
  gate.enter(0);
  const batchStep = gate.turn(3).then(() => log.push('batch step'));
  await gate.turn(0);
  log.push('final step');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['final step'], 'the batch step waits while the final is in flight');
  gate.leave(0);
  await batchStep;
  assert.deepEqual(log, ['final step', 'batch step']);
  gate.leave(3);
});

test('equal and less urgent ranks never block each other upwards', async () => {
  const gate = new RunGate(4);
  gate.enter(2);
  gate.enter(2);
  gate.enter(3);
  await gate.turn(2);
  await gate.turn(0);
  let resumed = false;
  const p = gate.turn(3).then(() => { resumed = true; });
  gate.leave(2);
  await new Promise((r) => setImmediate(r));
  assert.equal(resumed, false, 'one rank-2 request is still in flight');
  gate.leave(2);
  await p;
  assert.equal(resumed, true);
});
