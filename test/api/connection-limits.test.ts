import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientAddress, judgeBody } from '../../src/api/connection-limits.js';

const opts = { minBodyBytesPerSecond: 1000, bodyRateWindowMs: 10_000 };

function request(over: Partial<{ complete: boolean; readableFlowing: boolean | null; readableLength: number; destroyed: boolean; bytesRead: number }> = {}) {
  const r = { complete: false, readableFlowing: true as boolean | null, readableLength: 0, destroyed: false, bytesRead: 0, ...over };
  return { complete: r.complete, readableFlowing: r.readableFlowing, readableLength: r.readableLength, socket: { destroyed: r.destroyed, bytesRead: r.bytesRead } };
}

describe('judgeBody', () => {
  const watch = { since: 0, bytesAtStart: 500 };

  it('lets go of complete bodies and closed sockets', () => {
    assert.equal(judgeBody(request({ complete: true }), watch, 60_000, opts), 'done');
    assert.equal(judgeBody(request({ destroyed: true }), watch, 60_000, opts), 'done');
    assert.equal(judgeBody({ ...request(), socket: null }, watch, 60_000, opts), 'done');
  });

  it('waits for the window to end', () => {
    assert.equal(judgeBody(request({ bytesRead: 500 }), watch, 9_999, opts), 'wait');
  });

  it('cuts a body that brought less than the minimum over a whole window', () => {
    assert.equal(judgeBody(request({ bytesRead: 500 + 9_999 }), watch, 10_000, opts), 'too-slow');
    assert.equal(judgeBody(request({ bytesRead: 500 + 10_000 }), watch, 10_000, opts), 'restart');
  });

  it('never blames the client while the server is not reading', () => {
    // Nobody consumes the body yet, the stream is paused (backpressure), or read data waits unread.
    assert.equal(judgeBody(request({ readableFlowing: null }), watch, 60_000, opts), 'restart');
    assert.equal(judgeBody(request({ readableFlowing: false }), watch, 60_000, opts), 'restart');
    assert.equal(judgeBody(request({ readableLength: 16_384 }), watch, 60_000, opts), 'restart');
  });
});

describe('clientAddress', () => {
  it('reads IPv4-mapped IPv6 addresses as IPv4', () => {
    assert.equal(clientAddress({ remoteAddress: '::ffff:127.0.0.2' }), '127.0.0.2');
    assert.equal(clientAddress({ remoteAddress: '127.0.0.2' }), '127.0.0.2');
    assert.equal(clientAddress({ remoteAddress: '::1' }), '::1');
    assert.equal(clientAddress({ remoteAddress: undefined }), 'unknown');
  });
});
