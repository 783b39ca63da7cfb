import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countSyllables, endsSentence, periodAlignIndices, periodPositions } from '../../src/stream/epd-text.js';

test('periodPositions: sentence-final marks, ASCII and full-width; decimal points are not', () => {
  assert.deepEqual(periodPositions('Hello. Is it 64.5%? Yes!'), [5, 18, 23]);
  assert.deepEqual(periodPositions('입니다. 네？'), [3, 6]);
  assert.deepEqual(periodPositions('水です。はい'), [3]);
  assert.deepEqual(periodPositions('no marks'), []);
});

test('endsSentence looks past trailing spaces and closing quotes', () => {
  assert.ok(endsSentence('He left.'));
  assert.ok(endsSentence('"Is it?" '));
  assert.ok(endsSentence('そうです。」'));
  assert.ok(!endsSentence('And so, my fellow Americans,'));
  assert.ok(!endsSentence('version 3.5'));
  assert.ok(!endsSentence(''));
});

test('periodAlignIndices: the word holding each mark, or the word a detached mark follows', () => {
  const text = 'I have a problem. Could you come ?';
  const words = ['I', 'have', 'a', 'problem.', 'Could', 'you', 'come'];
  assert.deepEqual(periodAlignIndices(text, words, periodPositions(text)), [3, 6]);
  // Words that cannot be found (masked differently) give -1, never a wrong index.
  assert.deepEqual(periodAlignIndices('abc.', ['xyz'], [3]), [-1]);
});

test('countSyllables: Hangul, kana and Han one each; Latin by vowel groups; digits one each', () => {
  assert.equal(countSyllables('안녕하세요.'), 5);
  assert.equal(countSyllables('水をマレーシアから'), 8); // the long-vowel mark ー is not a syllable
  assert.equal(countSyllables('甚至出现'), 4);
  assert.equal(countSyllables('ask not what your country'), 6);
  assert.equal(countSyllables('rhythm 2026'), 5);
  assert.equal(countSyllables(' , . ! '), 0);
});
