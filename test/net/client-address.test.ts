import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientBucket, ProxyTrust, validateTrustedProxies } from '../../src/net/client-address.js';

describe('ProxyTrust.clientAddress', () => {
  it('is the peer, canonical, when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const none = new ProxyTrust();
    assert.equal(none.clientAddress('127.0.0.1', '203.0.113.1'), '127.0.0.1');
    assert.equal(none.clientAddress('::ffff:127.0.0.2'), '127.0.0.2');
    assert.equal(none.clientAddress('2001:DB8:0:0::1'), '2001:db8::1');
    assert.equal(none.clientAddress(undefined), 'unknown');
  });

  it('walks X-Forwarded-For from the right past trusted proxies only', () => {
    const trust = new ProxyTrust(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
    assert.equal(trust.clientAddress('127.0.0.1', '203.0.113.9'), '203.0.113.9');
    assert.equal(trust.clientAddress('127.0.0.1', '6.6.6.6, 203.0.113.9, 10.1.2.3'), '203.0.113.9', 'a spoofed left entry is not believed');
    assert.equal(trust.clientAddress('127.0.0.1', ['6.6.6.6', '203.0.113.9,10.1.2.3']), '203.0.113.9', 'several header lines are one list');
    assert.equal(trust.clientAddress('198.51.100.1', '203.0.113.9'), '198.51.100.1', 'an untrusted peer\'s header is ignored');
    assert.equal(trust.clientAddress('127.0.0.1', 'not-an-ip'), '127.0.0.1', 'a malformed entry ends the walk');
    assert.equal(trust.clientAddress('127.0.0.1', '10.0.0.1, 10.0.0.2'), '10.0.0.1', 'all trusted: the leftmost');
    assert.equal(trust.clientAddress('fd00::1', '[2001:db8::5]'), '2001:db8::5');
  });
});

describe('validateTrustedProxies', () => {
  it('takes addresses and CIDR ranges, refuses anything else', () => {
    validateTrustedProxies(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '::ffff:10.0.0.0/104']);
    for (const bad of ['localhost', '10.0.0.0/33', '10.1', '010.0.0.1', '::/129', '']) {
      assert.throws(() => validateTrustedProxies([bad]), RangeError, bad);
    }
  });

  it('reads an IPv4-mapped range as the IPv4 range', () => {
    assert.equal(new ProxyTrust(['::ffff:10.0.0.0/104']).clientAddress('10.9.9.9', '203.0.113.1'), '203.0.113.1');
  });
});

describe('clientBucket', () => {
  it('is an IPv4 address itself, an IPv6 address its /64', () => {
    assert.equal(clientBucket('192.0.2.1'), '192.0.2.1');
    assert.equal(clientBucket('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(clientBucket('unknown'), 'unknown');
  });
});
