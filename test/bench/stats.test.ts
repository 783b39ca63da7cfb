import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median } from '../../bench/lib/stats.js';

test('median: the middle value, the mean of the two middle ones for an even count, NaN for none', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});
