import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import type { KvCache } from '../../../src/speech/whisper/decoder-runner.js';
import { GroupedRunner } from '../../../src/speech/whisper/grouped-runner.js';
import { paddingFeeds } from '../../../src/speech/whisper/self-padding.js';

/** A cache of `n` rows, `length` tokens, 2 tensors [n, 1, length, 2] whose values start at `base`. */
function cache(n: number, length: number, base: number, crossBase = base): KvCache {
  const t = (b: number, rows: number, len: number): ort.Tensor =>
    new ort.Tensor('float32', Float32Array.from({ length: rows * len * 2 }, (_, i) => b + i), [rows, 1, len, 2]);
  return { self: [t(base, n, length), t(base + 1000, n, length)], cross: [t(crossBase, 1, 3), t(crossBase + 500, 1, 3)], batch: n, length };
}

test('stackCross puts group g at batch index g', () => {
  const a = cache(1, 1, 0, 10);
  const b = cache(1, 1, 0, 20);
  const s = GroupedRunner.stackCross([a.cross, b.cross]);
  assert.deepEqual(s[0].dims, [2, 1, 3, 2]);
  assert.deepEqual([...(s[0].data as Float32Array)], [10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25]);
  assert.deepEqual([...(s[1].data as Float32Array)].slice(6), [520, 521, 522, 523, 524, 525]);
  assert.throws(() => GroupedRunner.stackCross([a.cross, GroupedRunner.stackCross([a.cross, b.cross])]), /group 1/);
});

test('join concatenates rows group-major; split gives each group its rows and own cross back', () => {
  const groups = [cache(2, 3, 0), cache(2, 3, 100), cache(2, 3, 200)];
  const cross = GroupedRunner.stackCross(groups.map((g) => g.cross));
  const joined = GroupedRunner.join(groups, cross);
  assert.equal(joined.batch, 6);
  assert.equal(joined.length, 3);
  assert.deepEqual(joined.self[0].dims, [6, 1, 3, 2]);
  assert.equal(joined.cross, cross);
  const rows = joined.self[1].data as Float32Array;
  assert.deepEqual([...rows.subarray(12, 14)], [1100, 1101]); // group 1's first row
  const back = GroupedRunner.split(joined, groups.map((g) => g.cross));
  back.forEach((c, g) => {
    assert.equal(c.batch, 2);
    assert.equal(c.cross, groups[g].cross);
    c.self.forEach((t, i) => {
      assert.deepEqual(t.dims, groups[g].self[i].dims);
      assert.deepEqual([...(t.data as Float32Array)], [...(groups[g].self[i].data as Float32Array)]);
    });
  });
});

test('join refuses groups the grouped decoder cannot run together', () => {
  const cross = GroupedRunner.stackCross([cache(1, 2, 0).cross, cache(1, 2, 0).cross]);
  assert.throws(() => GroupedRunner.join([cache(1, 2, 0), cache(1, 3, 0)], cross), /holds 3 tokens/);
  assert.throws(() => GroupedRunner.join([cache(1, 2, 0), cache(2, 2, 0)], cross), /same beam count/);
  assert.throws(() => GroupedRunner.join([cache(1, 2, 0)], cross), /stacks 2 groups for 1/);
});

test('joinPadded left-pads shorter groups; paddingFeeds masks the padding and numbers each row from its own length; split cuts it off', () => {
  const groups = [cache(2, 3, 0), cache(2, 1, 100)];
  const cross = GroupedRunner.stackCross(groups.map((g) => g.cross));
  const { cache: joined, pads } = GroupedRunner.joinPadded(groups, cross);
  assert.deepEqual(pads, [0, 2]);
  assert.equal(joined.length, 3);
  assert.deepEqual(joined.self[0].dims, [4, 1, 3, 2]);
  // Group 1, row 0: two padded positions, then its one token.
  assert.deepEqual([...(joined.self[0].data as Float32Array).subarray(12, 18)], [0, 0, 0, 0, 100, 101]);

  const feeds = paddingFeeds(pads, 2, joined.length);
  assert.deepEqual([...(feeds.sori_position_ids.data as BigInt64Array)], [3n, 3n, 1n, 1n]);
  assert.deepEqual(feeds.sori_self_mask.dims, [4, 1, 1, 4]);
  const mask = feeds.sori_self_mask.data as Float32Array;
  assert.deepEqual([...mask.subarray(0, 4)], [0, 0, 0, 0]);
  assert.ok(mask[8] < -1e38 && mask[9] < -1e38 && mask[10] === 0 && mask[11] === 0);

  const back = GroupedRunner.split(joined, groups.map((g) => g.cross), pads);
  back.forEach((c, g) => {
    assert.equal(c.length, groups[g].length);
    c.self.forEach((t, i) => assert.deepEqual([...(t.data as Float32Array)], [...(groups[g].self[i].data as Float32Array)]));
  });
});
