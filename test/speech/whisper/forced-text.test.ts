import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byteDecoder, rowScores, tokenBytes, tokenRanges } from '../../../src/speech/whisper/forced-text.js';

test('byte-level alphabet: 256 characters, printable ASCII as itself, space as Ġ', () => {
  const d = byteDecoder();
  assert.equal(d.size, 256);
  assert.equal(new Set(d.values()).size, 256);
  assert.deepEqual(tokenBytes('ab'), [0x61, 0x62]);
  assert.deepEqual(tokenBytes('Ġ'), [0x20]);
  // ' 국' is 20 EA B5 AD in UTF-8; byte-level: Ġ ê µ Ń (0xAD is not printable, mapped past 255).
  assert.deepEqual(tokenBytes('ĠêµŃ'), [0x20, 0xea, 0xb5, 0xad]);
  assert.throws(() => tokenBytes('국'));
});

test('token ranges: whole characters, a character split over two tokens lies in both, the leading space skipped', () => {
  // ' 조금만': space (1 byte), 조 금 만 (3 bytes each). Tokens: ' 조' (4), first 2 bytes of 금 (2), last byte of 금 + 만 (4).
  assert.deepEqual(tokenRanges(' 조금만', [4, 2, 4], 1), [
    { start: 0, end: 1 },
    { start: 1, end: 2 },
    { start: 1, end: 3 },
  ]);
  // A token of a space and a word in the middle covers the space.
  assert.deepEqual(tokenRanges(' 가 나', [4, 4], 1), [
    { start: 0, end: 1 },
    { start: 1, end: 3 },
  ]);
  assert.throws(() => tokenRanges(' 가', [3], 1), /bytes/);
});

test('row scores: log-softmax of the target, the best, the rank', () => {
  // Two rows over a vocabulary of 3.
  const logits = Float32Array.from([0, 0, 0, 2, 1, 0]);
  const [r0, r1] = rowScores(logits, 3, 0, [1, 1]);
  assert.ok(Math.abs(r0.logProb - Math.log(1 / 3)) < 1e-6);
  assert.equal(r0.rank, 0);
  const z = Math.log(Math.exp(2) + Math.exp(1) + 1);
  assert.ok(Math.abs(r1.logProb - (1 - z)) < 1e-6);
  assert.ok(Math.abs(r1.bestLogProb - (2 - z)) < 1e-6);
  assert.equal(r1.rank, 1);
  // firstRow offsets into the matrix.
  assert.equal(rowScores(logits, 3, 1, [0])[0].rank, 0);
});
