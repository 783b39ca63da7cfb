import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { protocolKey } from '../../src/stream/websocket.js';

describe('protocolKey (a browser\'s secret as a WebSocket subprotocol)', () => {
  const secret = 'sëcret/with+odd=chars';
  const encoded = Buffer.from(secret, 'utf8').toString('base64url');

  it('reads the secret from sori.key.<base64url> among the offered protocols', () => {
    assert.equal(protocolKey(`sori, sori.key.${encoded}`), secret);
    assert.equal(protocolKey(`sori.key.${encoded},sori`), secret);
    assert.equal(protocolKey(['sori', `sori.key.${encoded}`]), secret);
  });

  it('finds none without the key protocol, or with one that is not base64url', () => {
    assert.equal(protocolKey(undefined), undefined);
    assert.equal(protocolKey('sori'), undefined);
    assert.equal(protocolKey('sori.key.'), undefined);
    assert.equal(protocolKey('sori.key.a+b/c='), undefined);
    assert.equal(protocolKey('chat, superchat'), undefined);
  });
});
