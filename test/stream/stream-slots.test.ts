import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DomainConfig } from '../../src/config.js';
import { StreamSlots, tooManyStreamsMessage } from '../../src/stream/stream-slots.js';

const limits = { shortMaxSeconds: 60, shortMaxBytes: 1 << 20, requestsPerSecond: 0, maxConcurrentUploads: 16 };
const domain = (name: string, maxConcurrentStreams: number): DomainConfig => ({
  name, secret: `${name}-secret`, defaultLanguage: 'ko', limits: { ...limits, maxConcurrentStreams },
});

describe('StreamSlots (one process)', () => {
  it("counts each domain's streams up to its limit; a release frees one, twice is harmless", async () => {
    const slots = new StreamSlots();
    await slots.start();
    const two = domain('a', 2);
    const first = await slots.take(two);
    const second = await slots.take(two);
    assert.ok(first && second);
    assert.equal(await slots.take(two), undefined);
    assert.ok(await slots.take(domain('b', 1)), 'another domain has its own count');
    first();
    first();
    assert.ok(await slots.take(two));
    assert.equal(await slots.take(two), undefined, 'the double release freed one slot, not two');
    assert.equal(tooManyStreamsMessage(two), 'Too many channels, the max channel is: 2');
    await slots.close();
  });
});
