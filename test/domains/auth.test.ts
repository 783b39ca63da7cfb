import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { describe, it } from 'node:test';
import { AuthGate, configuredAuthGate, DomainAuthenticator } from '../../src/domains/auth.js';
import type { DomainConfig } from '../../src/config.js';

const limits = { shortMaxSeconds: 60, shortMaxBytes: 10 * 1024 * 1024, maxConcurrentStreams: 15, requestsPerSecond: 0, maxConcurrentUploads: 16 };
const general: DomainConfig = { name: 'general', secret: 'secret-general', defaultLanguage: 'ko', limits };
const other: DomainConfig = { name: 'other', secret: 'secret-other', defaultLanguage: 'en', limits };

describe('DomainAuthenticator', () => {
  const auth = new DomainAuthenticator([general, other]);

  it('maps each secret to its own domain', () => {
    assert.equal(auth.authenticate('secret-general'), general);
    assert.equal(auth.authenticate('secret-other'), other);
  });

  it('rejects missing, empty, wrong, prefix and repeated keys', () => {
    for (const key of [undefined, '', 'secret', 'secret-general ', 'SECRET-GENERAL', 'secret-generalx']) {
      assert.equal(auth.authenticate(key), undefined, `key ${JSON.stringify(key)}`);
    }
    // A header sent twice arrives as a list: ambiguous, so refused.
    assert.equal(auth.authenticate(['secret-general', 'secret-general']), undefined);
  });
});

describe('DomainAuthenticator with previous secrets (rotation)', () => {
  const rotating: DomainConfig = { ...general, previousSecrets: ['old-general', 'older-general'] };
  const auth = new DomainAuthenticator([rotating, other]);

  it('accepts the current and every previous secret of a domain, and says which it was', () => {
    assert.deepEqual(auth.match('secret-general'), { domain: rotating, previous: false });
    assert.deepEqual(auth.match('old-general'), { domain: rotating, previous: true });
    assert.deepEqual(auth.match('older-general'), { domain: rotating, previous: true });
    assert.equal(auth.authenticate('secret-other'), other);
    assert.equal(auth.authenticate('old-other'), undefined);
  });

  it('compares the key with every secret of every domain, whichever matches (no early exit)', () => {
    const counts = ['secret-general', 'older-general', 'secret-other', 'nobody', ''].map((key) => countComparisons(() => auth.match(key)));
    assert.deepEqual(counts, [4, 4, 4, 4, 0], 'four secrets, four comparisons; an empty key is refused before any');
  });
});

/** How many timingSafeEqual calls `fn` makes (node:crypto patched for the call, ESM bindings synced). */
function countComparisons(fn: () => void): number {
  const original = crypto.timingSafeEqual;
  let n = 0;
  crypto.timingSafeEqual = ((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    n++;
    return original(a, b);
  }) as typeof crypto.timingSafeEqual;
  syncBuiltinESMExports();
  try {
    fn();
  } finally {
    crypto.timingSafeEqual = original;
    syncBuiltinESMExports();
  }
  return n;
}

describe('AuthGate', () => {
  const from = (peer: string, forwardedFor?: string) => ({ peer, forwardedFor });

  function gate(opts: { maxFailures?: number; windowSeconds?: number; trustProxy?: string[] } = {}) {
    let now = 5_000_000;
    const blocked: Array<[string, number]> = [];
    const g = new AuthGate([{ ...general, previousSecrets: ['old-general'] }, other], {
      maxFailures: 3, windowSeconds: 60, ...opts, now: () => now, onBlocked: (client, s) => blocked.push([client, s]),
    });
    return { g, blocked, advance: (ms: number) => (now += ms) };
  }

  it('refuses a client after N wrong secrets without checking its key, until the window ends; others still get in', () => {
    const { g, blocked, advance } = gate();
    for (let i = 0; i < 3; i++) assert.equal(g.authenticate(from('203.0.113.7'), `guess-${i}`).ok, false);
    assert.deepEqual(blocked, [['203.0.113.7', 60]], 'logged once, at the failure that blocks');
    advance(15_500);
    const refused = g.authenticate(from('203.0.113.7'), 'secret-general');
    assert.deepEqual(refused, { ok: false, reason: 'throttled', client: '203.0.113.7', retryAfterSeconds: 45 }, 'even the right secret is refused');
    const good = g.authenticate(from('203.0.113.8'), 'secret-general');
    assert.ok(good.ok && good.domain.name === 'general', 'another address is not affected');
    assert.equal(g.authenticate(from('203.0.113.7'), 'secret-other').ok, false, 'a success elsewhere resets nothing');
    advance(44_500);
    const after = g.authenticate(from('203.0.113.7'), 'secret-general');
    assert.ok(after.ok, 'free once the window has passed');
    assert.equal(blocked.length, 1);
  });

  it('does not reset a client\'s count when it succeeds, nor count a missing key', () => {
    const { g } = gate();
    g.authenticate(from('198.51.100.1'), 'bad-1');
    g.authenticate(from('198.51.100.1'), 'bad-2');
    assert.ok(g.authenticate(from('198.51.100.1'), 'secret-other').ok);
    for (let i = 0; i < 10; i++) assert.equal((g.authenticate(from('198.51.100.1'), undefined) as { reason: string }).reason, 'missing');
    assert.equal((g.authenticate(from('198.51.100.1'), 'bad-3') as { reason: string }).reason, 'invalid');
    assert.equal((g.authenticate(from('198.51.100.1'), 'secret-other') as { reason: string }).reason, 'throttled');
  });

  it('accepts a previous secret and reports it as such', () => {
    const { g } = gate();
    const outcome = g.authenticate(from('127.0.0.1'), 'old-general');
    assert.ok(outcome.ok);
    assert.equal(outcome.domain.name, 'general');
    assert.equal(outcome.previousSecret, true);
    assert.equal((g.authenticate(from('127.0.0.1'), 'secret-general') as { previousSecret: boolean }).previousSecret, false);
  });

  it('counts failures, throttled attempts and previous-secret uses by domain (for /metrics)', () => {
    const { g } = gate();
    g.authenticate(from('127.0.0.1'), 'old-general');
    g.authenticate(from('127.0.0.1'), 'old-general');
    g.authenticate(from('127.0.0.1'), 'secret-other');
    g.authenticate(from('127.0.0.1'), undefined);
    for (let i = 0; i < 5; i++) g.authenticate(from('192.0.2.9'), `bad-${i}`);
    const counts = g.counts();
    assert.deepEqual([counts.failures, counts.throttled, [...counts.previousSecret]], [3, 2, [['general', 2]]]);
  });

  it('counts an IPv6 client by its /64, and an IPv4-mapped one as IPv4', () => {
    const { g } = gate();
    g.authenticate(from('2001:db8:1:2::a'), 'bad');
    g.authenticate(from('2001:db8:1:2:ffff::b'), 'bad');
    g.authenticate(from('::ffff:192.0.2.1'), 'bad');
    g.authenticate(from('2001:db8:1:2:1:2:3:4'), 'bad');
    assert.equal((g.authenticate(from('2001:db8:1:2::77'), 'secret-general') as { reason: string }).reason, 'throttled');
    assert.ok(g.authenticate(from('2001:db8:1:3::a'), 'secret-general').ok, 'the next /64 is someone else');
    g.authenticate(from('192.0.2.1'), 'bad');
    g.authenticate(from('192.0.2.1'), 'bad');
    const mapped = g.authenticate(from('::ffff:192.0.2.1'), 'secret-general');
    assert.deepEqual(mapped, { ok: false, reason: 'throttled', client: '192.0.2.1', retryAfterSeconds: 60 });
  });

  it('ignores X-Forwarded-For unless the peer is a trusted proxy, then counts the forwarded client', () => {
    const untrusting = gate().g;
    for (let i = 0; i < 3; i++) untrusting.authenticate(from('10.0.0.5', `198.51.100.${i}`), 'bad');
    assert.equal((untrusting.authenticate(from('10.0.0.5', '198.51.100.99'), 'secret-general') as { reason: string }).reason, 'throttled',
      'a client cannot dodge the count by writing the header itself');

    const { g } = gate({ trustProxy: ['10.0.0.0/8'] });
    for (let i = 0; i < 3; i++) g.authenticate(from('10.0.0.5', '203.0.113.50'), 'bad');
    assert.equal((g.authenticate(from('10.0.0.6', '203.0.113.50'), 'secret-general') as { reason: string }).reason, 'throttled');
    assert.ok(g.authenticate(from('10.0.0.5', '203.0.113.51'), 'secret-general').ok, 'the proxy itself is not blocked, only that client');
    // A client spoofing a left-hand entry is still counted by the address the proxy saw.
    assert.equal((g.authenticate(from('10.0.0.5', '1.2.3.4, 203.0.113.50'), 'secret-general') as { reason: string }).reason, 'throttled');
  });
});

describe('configuredAuthGate', () => {
  it('throttles as configured and logs one warning per block, naming the client, never a key', () => {
    const warnings: Array<[Record<string, unknown>, string]> = [];
    const g = configuredAuthGate(
      { domains: [general], auth: { maxFailures: 2, windowSeconds: 30, maxAddresses: 10 }, server: { trustProxy: ['127.0.0.1'] } },
      { warn: ((obj: Record<string, unknown>, msg: string) => void warnings.push([obj, msg])) as never },
    );
    const origin = { peer: '127.0.0.1', forwardedFor: '203.0.113.4' };
    for (const key of ['wrong-key-1', 'wrong-key-2', 'wrong-key-3']) g.authenticate(origin, key);
    assert.equal((g.authenticate(origin, 'secret-general') as { reason: string }).reason, 'throttled');
    assert.deepEqual(warnings, [[
      { client: '203.0.113.4', failures: 2, windowSeconds: 30, retryAfterSeconds: 30 }, 'client throttled: too many failed authentications',
    ]]);
  });
});
