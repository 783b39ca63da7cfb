import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DomainConfig, DomainLimits } from '../../src/config.js';
import { burstOf, DomainRequestLimits } from '../../src/domains/request-limits.js';

function domain(name: string, limits: Partial<DomainLimits>): DomainConfig {
  return {
    name,
    secret: `${name}-secret`,
    defaultLanguage: 'ko',
    limits: { shortMaxSeconds: 60, shortMaxBytes: 1 << 20, maxConcurrentStreams: 15, requestsPerSecond: 0, maxConcurrentUploads: 16, ...limits },
  };
}

describe('DomainRequestLimits.takeRequest (token bucket)', () => {
  it('never refuses a domain without a rate', () => {
    const limits = new DomainRequestLimits();
    const free = domain('free', {});
    for (let i = 0; i < 10_000; i++) assert.deepEqual(limits.takeRequest(free, 0), { allowed: true });
  });

  it('allows a burst, then one request per 1/rate seconds, with Retry-After until the next token', () => {
    const limits = new DomainRequestLimits();
    const d = domain('d', { requestsPerSecond: 2, requestBurst: 3 });
    for (let i = 0; i < 3; i++) assert.equal(limits.takeRequest(d, 1000).allowed, true, `burst request ${i}`);
    assert.deepEqual(limits.takeRequest(d, 1000), { allowed: false, retryAfterS: 1 });
    // Half a second later one token is back (2 per second), not two.
    assert.equal(limits.takeRequest(d, 1500).allowed, true);
    assert.equal(limits.takeRequest(d, 1500).allowed, false);
    // A long pause refills to the burst, never beyond.
    for (let i = 0; i < 3; i++) assert.equal(limits.takeRequest(d, 60_000).allowed, true);
    assert.equal(limits.takeRequest(d, 60_000).allowed, false);
  });

  it('says how long to wait when the rate is below one per second', () => {
    const limits = new DomainRequestLimits();
    const slow = domain('slow', { requestsPerSecond: 0.1 });
    assert.equal(burstOf(slow.limits), 1);
    assert.equal(limits.takeRequest(slow, 0).allowed, true);
    assert.deepEqual(limits.takeRequest(slow, 0), { allowed: false, retryAfterS: 10 });
    assert.deepEqual(limits.takeRequest(slow, 4000), { allowed: false, retryAfterS: 6 });
    assert.equal(limits.takeRequest(slow, 10_000).allowed, true);
  });

  it('keeps one bucket per domain', () => {
    const limits = new DomainRequestLimits();
    const a = domain('a', { requestsPerSecond: 1 });
    const b = domain('b', { requestsPerSecond: 1 });
    assert.equal(limits.takeRequest(a, 0).allowed, true);
    assert.equal(limits.takeRequest(a, 0).allowed, false);
    assert.equal(limits.takeRequest(b, 0).allowed, true, 'another domain is not affected');
  });

  it('defaults the burst to the rate rounded up', () => {
    assert.equal(burstOf({ requestsPerSecond: 2.5 }), 3);
    assert.equal(burstOf({ requestsPerSecond: 2.5, requestBurst: 7 }), 7);
  });

  it('refills nothing when the clock steps back', () => {
    const limits = new DomainRequestLimits();
    const d = domain('d', { requestsPerSecond: 1 });
    assert.equal(limits.takeRequest(d, 10_000).allowed, true);
    assert.equal(limits.takeRequest(d, 5_000).allowed, false);
  });
});

describe('DomainRequestLimits.takeUpload', () => {
  it('counts uploads per domain up to maxConcurrentUploads; release is idempotent', () => {
    const limits = new DomainRequestLimits();
    const d = domain('d', { maxConcurrentUploads: 2 });
    const other = domain('other', { maxConcurrentUploads: 1 });
    const first = limits.takeUpload(d);
    const second = limits.takeUpload(d);
    assert.ok(first !== undefined && second !== undefined);
    assert.equal(limits.takeUpload(d), undefined, 'a third is refused');
    assert.ok(limits.takeUpload(other) !== undefined, 'another domain has its own count');
    first();
    first();
    assert.equal(limits.uploadsInFlight('d'), 1, 'a second release of the same slot frees nothing more');
    const third = limits.takeUpload(d);
    assert.ok(third !== undefined);
    assert.equal(limits.takeUpload(d), undefined);
    second();
    third();
    assert.equal(limits.uploadsInFlight('d'), 0);
  });
});
