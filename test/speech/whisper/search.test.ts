import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endsInLoop, topK, mulberry32 } from '../../../src/speech/whisper/search.js';
import { trimRepetition, compressionRatio } from '../../../src/speech/whisper/transcriber.js';

const TS = 50364;

test('a phrase repeated three times running is a loop; a short word needs six', () => {
  const phrase = [11, 12, 13, 14];
  assert.equal(endsInLoop([1, 2, ...phrase, ...phrase], TS), false);
  assert.equal(endsInLoop([1, 2, ...phrase, ...phrase, ...phrase], TS), true);
  assert.equal(endsInLoop([5, 7, 7, 7], TS), false, '"no, no, no" is speech');
  assert.equal(endsInLoop([5, 7, 7, 7, 7, 7, 7], TS), true);
  // timestamps between the repeats do not hide the loop
  assert.equal(endsInLoop([TS, ...phrase, TS + 50, TS + 50, ...phrase, TS + 90, TS + 90, ...phrase], TS), true);
});

test('trimRepetition keeps a looping phrase twice; compression ratio sees repetition', () => {
  const phrase = [21, 22, 23];
  assert.deepEqual(trimRepetition([1, ...phrase, ...phrase, ...phrase, ...phrase], TS), [1, ...phrase, ...phrase]);
  assert.deepEqual(trimRepetition([1, 2, 3, 4], TS), [1, 2, 3, 4]);
  assert.ok(compressionRatio('그 말이 맞아요 '.repeat(20)) > 2.4);
  assert.ok(compressionRatio('And so my fellow Americans, ask not what your country can do for you.') < 2.4);
});

test('topK returns the largest values first; the PRNG is deterministic', () => {
  assert.deepEqual(topK(Float32Array.from([0.1, 5, -1, 3, 4]), 3), [1, 4, 3]);
  const a = mulberry32(7);
  const b = mulberry32(7);
  assert.deepEqual([a(), a(), a()], [b(), b(), b()]);
});
