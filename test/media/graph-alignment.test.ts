import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { alignReferenceGraph } from '../../src/media/graph-alignment.js';

describe('alignReferenceGraph', () => {
  test('output has the user length and is all non-negative integers', () => {
    const ref = [1, 1, 500, 900, 400, 1, 1];
    const user = [1, 3, 2, 1000, 2000, 3000, 2500, 1500, 800, 2, 1, 1];
    const out = alignReferenceGraph(ref, user);
    assert.equal(out.length, user.length);
    for (const v of out) assert.ok(Number.isInteger(v) && v >= 0, `value ${v}`);
  });

  test('silence outside the user speech span is 0, and the speech spans line up', () => {
    const ref = [1, 1, 500, 900, 400, 1, 1];
    const user = [1, 3, 2, 1000, 2000, 3000, 2500, 1500, 800, 2, 1, 1];
    const out = alignReferenceGraph(ref, user);
    assert.deepEqual(out.slice(0, 3), [0, 0, 0]);
    assert.deepEqual(out.slice(9), [0, 0, 0]);
    assert.ok(out.slice(3, 9).every((v) => v > 0), JSON.stringify(out));
  });

  test('equal spans copy the reference, rescaled to the user peak', () => {
    const ref = [0, 100, 200, 300, 0];
    const user = [1, 1000, 3000, 2000, 1];
    assert.deepEqual(alignReferenceGraph(ref, user), [0, 1000, 2000, 3000, 0]);
  });

  test('stretching repeats reference values in order (slower speaker)', () => {
    const ref = [100, 200, 300];
    const user = [600, 600, 600, 600, 600, 600];
    assert.deepEqual(alignReferenceGraph(ref, user), [200, 200, 400, 400, 600, 600]);
  });

  test('compressing keeps each slot\'s peak (faster speaker)', () => {
    const ref = [100, 900, 200, 200, 300, 1000];
    const user = [50, 50, 50];
    // Slots cover ref [0,2), [2,4), [4,6): peaks 900, 200, 1000; gain 50/1000.
    assert.deepEqual(alignReferenceGraph(ref, user), [45, 10, 50]);
  });

  test('a non-integer ratio covers every reference frame once or more, in order', () => {
    const ref = [0, 10, 20, 30, 40, 50, 60, 0];
    const user = [0, 0, 60, 60, 60, 60, 0];
    const out = alignReferenceGraph(ref, user, { silenceFraction: 0.1 });
    assert.equal(out.length, 7);
    assert.deepEqual(out.slice(0, 2), [0, 0]);
    assert.equal(out[6], 0);
    const speech = out.slice(2, 6);
    assert.deepEqual([...speech].sort((a, b) => a - b), speech, 'rising reference stays rising');
    assert.equal(speech[3], 60);
  });

  test('reference pauses inside its speech span stay 0', () => {
    const ref = [1000, 1, 1, 1000];
    const user = [5, 5, 5, 5];
    assert.deepEqual(alignReferenceGraph(ref, user), [5, 0, 0, 5]);
  });

  test('no speech on either side gives all zeros of the user length', () => {
    assert.deepEqual(alignReferenceGraph([1, 1, 1], [0, 0]), [0, 0]);
    assert.deepEqual(alignReferenceGraph([], [5, 5]), [0, 0]);
    assert.deepEqual(alignReferenceGraph([5, 5], [0, 0, 0]), [0, 0, 0]);
    assert.deepEqual(alignReferenceGraph([5, 5], []), []);
    // 1 is the envelope of digital silence.
    assert.deepEqual(alignReferenceGraph([5, 5], [1, 1, 1]), [0, 0, 0]);
  });

  test('the silence threshold is relative to each envelope', () => {
    // 40 is speech at 0.1 of 300 but silence at 0.5.
    const ref = [40, 300, 40];
    const user = [10, 10, 10];
    assert.deepEqual(alignReferenceGraph(ref, user), [1, 10, 1]);
    assert.deepEqual(alignReferenceGraph(ref, user, { silenceFraction: 0.5 }), [10, 10, 10]);
  });

  test('rejects a silenceFraction outside (0, 1]', () => {
    assert.throws(() => alignReferenceGraph([1], [1], { silenceFraction: 0 }), RangeError);
    assert.throws(() => alignReferenceGraph([1], [1], { silenceFraction: 1.5 }), RangeError);
  });
});
