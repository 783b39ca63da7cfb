import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { DecoderRunner, type KvCache } from '../../../src/speech/whisper/decoder-runner.js';
import type { WhisperModel } from '../../../src/speech/whisper/model.js';
import { mulberry32 } from '../../../src/speech/whisper/search.js';

// reorder moves rows of the cache's arrays and runs no session: a model of the right shape suffices.
const runner = new DecoderRunner({ decoder: { inputNames: [] }, heads: 2, headDim: 3, layers: 1 } as unknown as WhisperModel);
const ROW = 2 * 4 * 3; // heads x length x headDim

/** `rows` rows of 4 tokens; row r of tensor k holds k·1000 + r·100 + i. */
function cache(rows: number, data: Float32Array[] = [0, 1].map(() => new Float32Array(rows * ROW))): KvCache {
  const self = data.map((d, k) => {
    for (let r = 0; r < rows; r++) for (let i = 0; i < ROW; i++) d[r * ROW + i] = k * 1000 + r * 100 + i;
    return new ort.Tensor('float32', d, [rows, 2, 4, 3]);
  });
  return { self, cross: [], batch: rows, length: 4 };
}

/** What reorder must give: row i is a copy of row sources[i]. */
function expected(rows: number, sources: number[], k: number): number[] {
  return sources.flatMap((s) => Array.from({ length: ROW }, (_, i) => k * 1000 + s * 100 + i));
}

test('reorder: row i becomes row sources[i], rows repeated, rotated or dropped, whatever the order of writes', () => {
  const cases = [[0, 0, 0, 0, 0], [4, 3, 2, 1, 0], [1, 2, 3, 4, 0], [2, 2, 0, 0, 1], [0, 1, 2], [3, 3], [0, 1, 2, 3, 4]];
  const rng = mulberry32(7);
  for (let n = 0; n < 200; n++) cases.push(Array.from({ length: 1 + Math.floor(rng() * 5) }, () => Math.floor(rng() * 5)));
  for (const sources of cases) {
    const out = runner.reorder(cache(5), sources);
    assert.equal(out.batch, sources.length);
    out.self.forEach((t, k) => {
      assert.deepEqual(t.dims, [sources.length, 2, 4, 3]);
      assert.deepEqual([...(t.data as Float32Array)], expected(5, sources, k), `sources ${sources.join(',')}`);
    });
  }
});

test('reorder writes in place: no new arrays, and a cache that is a view of a larger buffer leaves its neighbours alone', () => {
  const whole = [0, 1].map(() => new Float32Array(3 * 5 * ROW).fill(-1));
  const mine = cache(5, whole.map((w) => w.subarray(5 * ROW, 10 * ROW)));
  const out = runner.reorder(mine, [4, 4, 1, 0, 2]);
  out.self.forEach((t, k) => {
    assert.equal((t.data as Float32Array).buffer, whole[k].buffer);
    assert.deepEqual([...(t.data as Float32Array)], expected(5, [4, 4, 1, 0, 2], k));
    assert.ok(whole[k].subarray(0, 5 * ROW).every((v) => v === -1));
    assert.ok(whole[k].subarray(10 * ROW).every((v) => v === -1));
  });
  const same = cache(5);
  assert.equal(runner.reorder(same, [0, 1, 2, 3, 4]), same, 'the identity returns the cache as is');
  assert.throws(() => runner.reorder(cache(2), [0, 1, 1]), /3 rows from a cache of 2/);
});
