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

test('words match across case and spacing, the longest at each place, without overlapping', () => {
  const mask = forbiddenMatcher(parseForbiddens('bad word, bad, 나쁜 말, ΣΟΦΟΣ'))!;
  assert.equal(mask('a BadWord and a bad one'), 'a ******* and a *** one');
  assert.equal(mask('b a d'), '* * *');
  assert.equal(mask('나 쁜말이야, 나쁜 말'), '* **이야, ** *');
  assert.equal(mask('σοφος and σοφοσ'), '***** and *****', 'final sigma folds like sigma');
  assert.equal(mask('abadbad'), 'a******');
  assert.equal(mask('clean text'), 'clean text');
  assert.equal(mask(''), '');
  // A character outside the BMP is one character, masked with one '*'.
  assert.equal(forbiddenMatcher(['😀x'])!('a 😀 X b'), 'a * * b');
  assert.equal(forbiddenMatcher(['  ', '']), undefined, 'words of spaces alone mask nothing');
});

test('a huge list of words (a hostile stream config) builds and masks at once: no regular expression is compiled from it', () => {
  // As a regular expression this list took seconds to compile and, larger, aborted the process.
  const words = Array.from({ length: 300_000 }, (_, i) => `단어${i}`);
  const t0 = performance.now();
  const mask = forbiddenMatcher([...words, 'x'.repeat(1_000_000)])!;
  assert.equal(mask('오늘 단어12345 그리고 단어 299999 끝'), '오늘 ******* 그리고 ** ****** 끝');
  assert.equal(mask('x'.repeat(1000)), 'x'.repeat(1000));
  assert.ok(performance.now() - t0 < 5000, `took ${Math.round(performance.now() - t0)} ms`);
});
