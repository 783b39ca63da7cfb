import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextRetryMs } from '../../src/jobs/postgres-notifications.js';

describe('nextRetryMs', () => {
  it('starts at min, doubles, and stays at max', () => {
    const retry = { min: 500, max: 10_000 };
    const waits: number[] = [];
    let last: number | undefined;
    for (let i = 0; i < 8; i++) waits.push((last = nextRetryMs(last, retry)));
    assert.deepEqual(waits, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });
});
