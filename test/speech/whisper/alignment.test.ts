import { test } from 'node:test';
import assert from 'node:assert/strict';
import { medianFilterRows, medianFilterRowsDirect } from '../../../src/speech/whisper/alignment.js';
import { mulberry32 } from '../../../src/speech/whisper/search.js';

test('the sliding median filter equals the per-cell one, edges (reflect padding) included', () => {
  const rng = mulberry32(7);
  for (const [rows, cols] of [[3, 8], [5, 50], [2, 1500]] as const) {
    const w = Float64Array.from({ length: rows * cols }, () => Math.round(rng() * 20) / 4); // ties too
    assert.deepEqual(medianFilterRows(w, rows, cols, 7), medianFilterRowsDirect(w, rows, cols, 7));
  }
});

test('rows shorter than the filter fall back to the per-cell filter', () => {
  const w = Float64Array.from([3, 1, 2, 9, 5, 4, 7, 8]);
  assert.deepEqual(medianFilterRows(w, 2, 4, 7), medianFilterRowsDirect(w, 2, 4, 7));
});
