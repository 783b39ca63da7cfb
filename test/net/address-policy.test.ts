import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  describeRefusal,
  isAddressAllowed,
  restrictedRange,
  validateAllowList,
  type NetworkPolicy,
} from '../../src/net/address-policy.js';

const DEFAULT: NetworkPolicy = { allowPrivate: false, allowList: [] };

/** [address, the range it is refused as] */
const REFUSED: [string, string][] = [
  ['127.0.0.1', 'loopback'],
  ['127.255.0.9', 'loopback'],
  ['10.0.0.1', 'private'],
  ['172.16.5.4', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['169.254.169.254', 'link-local'],
  ['169.254.0.1', 'link-local'],
  ['100.64.0.1', 'carrier-grade NAT'],
  ['100.127.255.254', 'carrier-grade NAT'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['255.255.255.255', 'broadcast'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['192.0.2.10', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['240.0.0.1', 'reserved'],
  ['::1', 'loopback'],
  ['::', 'unspecified'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['febf:ffff::1', 'link-local'],
  ['fc00::1', 'unique-local'],
  ['fd12:3456:789a::1', 'unique-local'],
  ['ff02::1', 'multicast'],
  ['2001:db8::1', 'reserved'],
  ['::ffff:127.0.0.1', 'loopback, IPv4-mapped'],
  ['::ffff:7f00:1', 'loopback, IPv4-mapped'],
  ['::ffff:169.254.169.254', 'link-local, IPv4-mapped'],
  ['::ffff:10.0.0.1', 'private, IPv4-mapped'],
  ['::7f00:1', 'loopback, IPv4-compatible (deprecated)'],
  ['::127.0.0.1', 'loopback, IPv4-compatible (deprecated)'],
  ['::8.8.8.8', 'public, IPv4-compatible (deprecated)'],
  ['::ffff:0:a00:1', 'private, IPv4-translated'],
  ['64:ff9b::7f00:1', 'loopback, NAT64'],
  ['64:ff9b::192.168.0.1', 'private, NAT64'],
  ['64:ff9b:1::808:808', 'local-use NAT64'],
  ['2002:7f00:1::', 'loopback, 6to4'],
  ['2002:a9fe:a9fe::1', 'link-local, 6to4'],
  ['2001:0:4136:e378::1', 'Teredo tunnel'],
  ['not-an-ip', 'not an IP address'],
  ['', 'not an IP address'],
];

const PUBLIC = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.216.34',
  '172.15.255.255',
  '172.32.0.1',
  '100.63.255.255',
  '100.128.0.1',
  '169.253.255.255',
  '2606:4700:4700::1111',
  '2a00:1450:4001:830::200e',
  '::ffff:8.8.8.8',
  '64:ff9b::808:808',
  '2002:808:808::1',
];

describe('restrictedRange and isAddressAllowed by default', () => {
  for (const [ip, range] of REFUSED) {
    test(`${ip || '(empty)'} is refused as ${range}`, () => {
      assert.equal(restrictedRange(ip), range);
      assert.equal(isAddressAllowed(ip, 'example.com', DEFAULT), false);
    });
  }

  for (const ip of PUBLIC) {
    test(`${ip} is public and allowed`, () => {
      assert.equal(restrictedRange(ip), undefined);
      assert.equal(isAddressAllowed(ip, 'example.com', DEFAULT), true);
    });
  }

  test('bracketed IPv6 (as in URLs) is read the same', () => {
    assert.equal(restrictedRange('[::1]'), 'loopback');
    assert.equal(restrictedRange('[2606:4700:4700::1111]'), undefined);
  });
});

describe('isAddressAllowed: opting out', () => {
  test('allowPrivate allows everything', () => {
    const policy: NetworkPolicy = { allowPrivate: true, allowList: [] };
    for (const [ip] of REFUSED) assert.equal(isAddressAllowed(ip, ip, policy), true, ip);
  });

  test('a CIDR entry allows exactly its range', () => {
    const policy: NetworkPolicy = { allowPrivate: false, allowList: ['10.1.2.0/24'] };
    assert.equal(isAddressAllowed('10.1.2.0', 'a', policy), true);
    assert.equal(isAddressAllowed('10.1.2.255', 'a', policy), true);
    assert.equal(isAddressAllowed('10.1.3.0', 'a', policy), false);
    assert.equal(isAddressAllowed('10.1.1.255', 'a', policy), false);
    assert.equal(isAddressAllowed('192.168.0.1', 'a', policy), false);
  });

  test('an IPv4 entry also allows the IPv4-mapped IPv6 form, and the other way round', () => {
    const v4: NetworkPolicy = { allowPrivate: false, allowList: ['127.0.0.1/32'] };
    assert.equal(isAddressAllowed('127.0.0.1', '127.0.0.1', v4), true);
    assert.equal(isAddressAllowed('::ffff:127.0.0.1', 'x', v4), true);
    assert.equal(isAddressAllowed('127.0.0.2', 'x', v4), false);
    assert.equal(isAddressAllowed('::1', 'x', v4), false);
    const mapped: NetworkPolicy = { allowPrivate: false, allowList: ['::ffff:10.0.0.0/104'] };
    assert.equal(isAddressAllowed('10.9.9.9', 'x', mapped), true);
    assert.equal(isAddressAllowed('11.0.0.1', 'x', mapped), true, 'public anyway');
    assert.equal(isAddressAllowed('192.168.0.1', 'x', mapped), false);
  });

  test('IPv6 address and range entries', () => {
    const policy: NetworkPolicy = { allowPrivate: false, allowList: ['::1', 'fd00:1234::/32'] };
    assert.equal(isAddressAllowed('::1', '::1', policy), true);
    assert.equal(isAddressAllowed('[::1]', '[::1]', policy), true);
    assert.equal(isAddressAllowed('fd00:1234:5::9', 'x', policy), true);
    assert.equal(isAddressAllowed('fd00:1235::9', 'x', policy), false);
    assert.equal(isAddressAllowed('127.0.0.1', 'x', policy), false);
  });

  test('a hostname entry allows any address of that host, case-insensitively, and nothing else', () => {
    const policy: NetworkPolicy = { allowPrivate: false, allowList: ['Media.Internal'] };
    assert.equal(isAddressAllowed('10.0.0.5', 'media.internal', policy), true);
    assert.equal(isAddressAllowed('127.0.0.1', 'MEDIA.internal.', policy), true);
    assert.equal(isAddressAllowed('10.0.0.5', 'other.internal', policy), false);
    assert.equal(isAddressAllowed('10.0.0.5', 'sub.media.internal', policy), false, 'exact names only');
    assert.equal(isAddressAllowed('10.0.0.5', 'media.internal.evil.com', policy), false);
  });
});

describe('validateAllowList', () => {
  test('accepts hostnames, addresses and ranges', () => {
    validateAllowList(['media.internal', 'localhost', 'my_host', '10.0.0.0/8', '127.0.0.1', '::1', 'fe80::/10', '[::1]']);
  });

  for (const bad of ['10.1', '010.0.0.1', '10.0.0.0/33', '::1/129', '*.internal', 'http://media.internal', 'a b', '', '-x']) {
    test(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => validateAllowList([bad]), RangeError);
      assert.throws(() => isAddressAllowed('10.0.0.1', 'x', { allowPrivate: false, allowList: [bad] }), RangeError);
    });
  }
});

describe('describeRefusal', () => {
  test('names the address, its range, the host and the remedy', () => {
    assert.equal(
      describeRefusal('127.0.0.1', 'localhost'),
      'address 127.0.0.1 (loopback) of host localhost is not allowed; add it to network.allowList to permit it',
    );
  });

  test('an IP literal is not named twice', () => {
    assert.equal(
      describeRefusal('169.254.169.254', '169.254.169.254'),
      'address 169.254.169.254 (link-local) is not allowed; add it to network.allowList to permit it',
    );
    assert.equal(
      describeRefusal('::1', '[::1]'),
      'address ::1 (loopback) is not allowed; add it to network.allowList to permit it',
    );
  });
});
