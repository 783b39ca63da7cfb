import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { BodyIncompleteError, BodyTooLargeError, declaredLength, readRawBody } from '../../src/api/raw-body.js';

describe('readRawBody', () => {
  it('joins the chunks of a body within the limit', async () => {
    const body = await readRawBody(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 4, 4);
    assert.equal(body.toString(), 'abcd');
  });

  it('refuses a declared length over the limit without reading', async () => {
    const stream = new PassThrough();
    await assert.rejects(readRawBody(stream, 10, 11), BodyTooLargeError);
    assert.equal(stream.listenerCount('data'), 0, 'nothing subscribed to the stream');
  });

  it('stops at the chunk that crosses the limit when no length is declared', async () => {
    const stream = new PassThrough();
    const result = readRawBody(stream, 5);
    stream.write(Buffer.from('abc'));
    stream.write(Buffer.from('def'));
    await assert.rejects(result, BodyTooLargeError);
    assert.equal(stream.listenerCount('data'), 0, 'the rest is left to be discarded, not buffered');
  });

  it('refuses a body shorter than declared', async () => {
    await assert.rejects(readRawBody(Readable.from([Buffer.from('ab')]), 10, 5), BodyIncompleteError);
  });
});

describe('declaredLength', () => {
  it('reads only well-formed Content-Length values', () => {
    assert.equal(declaredLength('42'), 42);
    assert.equal(declaredLength(undefined), undefined);
    assert.equal(declaredLength('-1'), undefined);
    assert.equal(declaredLength('4e3'), undefined);
  });
});
