import { test } from 'node:test';
import assert from 'node:assert/strict';
import { divideRuns, maskRuns, splitPartials } from '../../../src/speech/diarization/split.js';
import { joinedToFrame, partials, speakerAudio } from '../../../src/speech/diarization/embedding.js';
import { FRAME_STEP_SAMPLES } from '../../../src/speech/diarization/segmentation.js';

/** Rows of unit-ish vectors: `a` near axis 0, `b` near axis 1 (4-d), with a little spread. */
function rows(kinds: string): Float32Array {
  const out = new Float32Array(kinds.length * 4);
  [...kinds].forEach((k, i) => {
    out[i * 4 + (k === 'a' ? 0 : 1)] = 1;
    out[i * 4 + 2] = 0.2 * ((i % 3) - 1);
  });
  return out;
}

test('partials of one voice stay together; two voices far apart split into two groups', () => {
  assert.equal(splitPartials(rows('aaaa'), 4, 0.7), null);
  assert.deepEqual([...(splitPartials(rows('aabb'), 4, 0.7) ?? [])], [0, 0, 1, 1]);
  assert.deepEqual([...(splitPartials(rows('abba'), 4, 0.7) ?? [])], [0, 1, 1, 0]);
  // The threshold decides: these groups are a cosine distance of about 1 apart.
  assert.equal(splitPartials(rows('aabb'), 4, 1.1), null);
  assert.equal(splitPartials(rows('a'), 1, 0), null);
});

test('frames go to the group of the nearest partial', () => {
  const runs = Uint16Array.from([0, 10, 20, 30]);
  const [mine, theirs] = divideRuns(runs, 40, [2, 8, 22, 28], Uint8Array.from([0, 0, 1, 1]));
  assert.deepEqual([...mine], [0, 10]);
  assert.deepEqual([...theirs], [20, 30]);
  // One run spoken by both: cut halfway between the groups' partials.
  const [first, second] = divideRuns(Uint16Array.from([0, 30]), 40, [5, 25], Uint8Array.from([0, 1]));
  assert.deepEqual([...first], [0, 16]);
  assert.deepEqual([...second], [16, 30]);
  assert.deepEqual([...maskRuns(Uint8Array.from([0, 1, 1, 0, 1]))], [1, 3, 4, 5]);
});

test('a partial cut from the joined audio is placed back where it was spoken', () => {
  const window = new Float32Array(160_000);
  const runs = Uint16Array.from([10, 110, 300, 400]);
  const joined = speakerAudio(window, runs);
  const batch = partials(joined, 4);
  assert.equal(batch.starts.length, 4);
  assert.equal(batch.starts[0], 0);
  // The first partial starts at the first run; the last ends flush with the second run's end.
  assert.equal(joinedToFrame(window.length, runs, batch.starts[0]), 10);
  const lastEnd = joinedToFrame(window.length, runs, batch.starts[3] + batch.length - 1);
  assert.ok(lastEnd >= 398 && lastEnd <= 400, String(lastEnd));
  // A sample just past the first run's 100 frames is in the second run.
  assert.equal(joinedToFrame(window.length, runs, 100 * FRAME_STEP_SAMPLES), 300);
});
