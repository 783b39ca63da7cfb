import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forbiddenMatcher, maskSegment, parseForbiddens } from '../../src/transcript/forbidden.js';

test('a segment is masked in its text and in each word, a phrase across two words included', () => {
  const mask = forbiddenMatcher(parseForbiddens('나쁜말, secret'))!;
  const seg = {
    start: 0, end: 3000, confidence: 0.9,
    text: '그건 나쁜 말이야 SECRET plan',
    words: [[0, 500, '그건'], [500, 900, '나쁜'], [900, 1500, '말이야'], [1500, 2000, 'SECRET'], [2000, 3000, 'plan']] as [number, number, string][],
  };
  const out = maskSegment(seg, mask);
  assert.equal(out.text, '그건 ** *이야 ****** plan');
  assert.deepEqual(out.words.map((w) => w[2]), ['그건', '**', '*이야', '******', 'plan']);
  assert.deepEqual(out.words.map((w) => [w[0], w[1]]), seg.words.map((w) => [w[0], w[1]]));
  assert.equal(maskSegment({ ...seg, text: 'clean', words: [[0, 1, 'clean']] }, mask).text, 'clean');
});
