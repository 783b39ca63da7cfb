import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthThrottle } from '../../src/domains/auth-throttle.js';

/** A throttle on a clock the test moves by hand. */
function throttle(maxFailures: number, windowMs: number, maxAddresses = 100): { t: AuthThrottle; advance: (ms: number) => void } {
  let now = 1_000_000;
  return { t: new AuthThrottle({ maxFailures, windowMs, maxAddresses, now: () => now }), advance: (ms) => (now += ms) };
}

describe('AuthThrottle', () => {
  it('blocks a client at its Nth failure within the window, until the window that began at its first failure ends', () => {
    const { t, advance } = throttle(3, 60_000);
    assert.equal(t.fail('a'), undefined);
    advance(10_000);
    assert.equal(t.fail('a'), undefined);
    assert.equal(t.blockedFor('a'), undefined, 'two failures: still allowed');
    advance(10_000);
    assert.equal(t.fail('a'), 40_000, 'the third failure blocks, and says for how long');
    assert.equal(t.blockedFor('a'), 40_000);
    advance(39_999);
    assert.equal(t.blockedFor('a'), 1);
    advance(1);
    assert.equal(t.blockedFor('a'), undefined, 'free once the window has passed');
    assert.equal(t.fail('a'), undefined, 'and counting starts afresh');
    assert.equal(t.blockedFor('a'), undefined);
  });

  it('forgets failures spread wider than the window', () => {
    const { t, advance } = throttle(3, 60_000);
    for (let i = 0; i < 10; i++) {
      t.fail('slow');
      advance(30_001);
      t.fail('slow');
      advance(30_000);
      assert.equal(t.blockedFor('slow'), undefined, `round ${i}`);
    }
  });

  it('counts each client on its own', () => {
    const { t } = throttle(2, 60_000);
    t.fail('a');
    t.fail('a');
    assert.ok(t.blockedFor('a') !== undefined);
    assert.equal(t.blockedFor('b'), undefined);
    t.fail('b');
    assert.equal(t.blockedFor('b'), undefined);
  });

  it('does not extend a block for attempts made while blocked (they are not counted)', () => {
    const { t, advance } = throttle(1, 60_000);
    t.fail('a');
    advance(59_000);
    assert.equal(t.blockedFor('a'), 1_000);
    advance(1_000);
    assert.equal(t.blockedFor('a'), undefined);
  });

  it('remembers at most maxAddresses clients, the least recently seen forgotten first', () => {
    const { t } = throttle(2, 60_000, 3);
    t.fail('a');
    t.fail('a');
    for (const c of ['b', 'c']) t.fail(c);
    assert.equal(t.tracked, 3);
    assert.ok(t.blockedFor('a') !== undefined, 'a blocked client that knocks stays recent');
    t.fail('d');
    assert.equal(t.tracked, 3);
    assert.ok(t.blockedFor('a') !== undefined, 'b, the least recently seen, went instead');
    for (let i = 0; i < 1000; i++) t.fail(`flood-${i}`);
    assert.equal(t.tracked, 3, 'a flood of addresses takes no more memory');
  });

  it('does nothing with maxFailures 0', () => {
    const { t } = throttle(0, 60_000);
    for (let i = 0; i < 100; i++) assert.equal(t.fail('a'), undefined);
    assert.equal(t.blockedFor('a'), undefined);
    assert.equal(t.tracked, 0);
  });
});
