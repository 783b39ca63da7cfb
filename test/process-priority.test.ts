import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { getPriority } from 'node:os';
import { DECODER_NICE, INFERENCE_NICE, lowerPriority } from '../src/process-priority.js';

test('children are niced below the event loop, inference below decoding', async () => {
  assert.ok(0 < DECODER_NICE && DECODER_NICE < INFERENCE_NICE);
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    lowerPriority(child.pid, INFERENCE_NICE);
    assert.equal(getPriority(child.pid), INFERENCE_NICE);
    lowerPriority(undefined, INFERENCE_NICE); // a child that failed to spawn has no pid: no throw
  } finally {
    child.kill();
  }
});
