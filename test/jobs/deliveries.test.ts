import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deliveryLeaseMs } from '../../src/jobs/deliveries.js';

test('a delivery lease outlasts its POST however long the callback timeout is set', () => {
  assert.equal(deliveryLeaseMs({ timeoutSeconds: 10 }), 60_000);
  for (const timeoutSeconds of [25, 60, 300]) {
    assert.ok(deliveryLeaseMs({ timeoutSeconds }) > 2 * timeoutSeconds * 1000, `timeout ${timeoutSeconds} s`);
  }
});
