import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VAD_WINDOW } from '../../src/speech/vad/silero.js';
import { PREROLL_SAMPLES, Utterance } from '../../src/stream/utterance.js';

test('Utterance: before speech only the pre-roll is kept, and its start moves along', () => {
  const utt = new Utterance(1000);
  const win = (v: number) => new Float32Array(VAD_WINDOW).fill(v);
  for (let i = 0; i < 40; i++) utt.append(win(i), false);
  assert.ok(utt.length <= PREROLL_SAMPLES * 2);
  assert.equal(utt.start + utt.length, 1000 + 40 * VAD_WINDOW);
  utt.append(win(99), true);
  for (let i = 0; i < 400; i++) utt.append(win(1), true);
  assert.equal(utt.start + utt.length, 1000 + 441 * VAD_WINDOW, 'with speech everything is kept (the buffer grows)');
  const copy = utt.snapshot();
  assert.equal(copy.length, utt.length);
  copy[0] = -1;
  assert.notEqual(utt.audio()[0], -1);
});

test('snapshot(upTo): a copy of the first samples only, never past the end', () => {
  const utt = new Utterance(0);
  const win = new Float32Array(512).map((_, i) => i / 512);
  utt.append(win, true);
  utt.append(win, true);
  assert.equal(utt.snapshot(512).length, 512);
  assert.deepEqual([...utt.snapshot(512)], [...win]);
  assert.equal(utt.snapshot(10_000).length, 1024);
});
