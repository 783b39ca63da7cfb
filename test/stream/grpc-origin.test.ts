import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { grpcOrigin } from '../../src/stream/grpc.js';

function call(peer: string, forwardedFor?: string[]): { getPeer(): string; metadata: grpc.Metadata } {
  const metadata = new grpc.Metadata();
  for (const v of forwardedFor ?? []) metadata.add('x-forwarded-for', v);
  return { getPeer: () => peer, metadata };
}

describe('grpcOrigin', () => {
  it('takes the address out of grpc-js\'s peer name, IPv6 included, and the x-forwarded-for metadata', () => {
    assert.deepEqual(grpcOrigin(call('127.0.0.2:41234')), { peer: '127.0.0.2', forwardedFor: undefined });
    assert.deepEqual(grpcOrigin(call('::1:41234')), { peer: '::1', forwardedFor: undefined });
    assert.deepEqual(grpcOrigin(call('::ffff:10.0.0.1:5')), { peer: '::ffff:10.0.0.1', forwardedFor: undefined });
    assert.deepEqual(grpcOrigin(call('[2001:db8::1]:443')), { peer: '2001:db8::1', forwardedFor: undefined });
    assert.deepEqual(grpcOrigin(call('unknown')), { peer: undefined, forwardedFor: undefined });
    assert.deepEqual(grpcOrigin(call('10.0.0.1:5', ['203.0.113.1', '198.51.100.2'])), { peer: '10.0.0.1', forwardedFor: ['203.0.113.1', '198.51.100.2'] });
  });
});
