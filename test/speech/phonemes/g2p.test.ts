import { test } from 'node:test';
import assert from 'node:assert/strict';
import { g2pTokens, letterChunks } from '../../../src/speech/phonemes/g2p.js';

const covers = (word: string, chunks: string[]): void => assert.equal(chunks.join(''), word);

test('letterChunks: monotonic links, a trailing silent letter joins the last chunk', () => {
  assert.deepEqual(letterChunks('false', [0, 1, 2, 3]), ['f', 'a', 'l', 'se']);
  assert.deepEqual(letterChunks('ask', [0, 1, 2]), ['a', 's', 'k']);
});

test('letterChunks: unclaimed letters inside the word join the earlier chunk', () => {
  // country -> k ʌ n t ɹ i, "u" unclaimed; knight -> n aɪ t, "k" before the first link.
  assert.deepEqual(letterChunks('country', [0, 1, 3, 4, 5, 6]), ['c', 'ou', 'n', 't', 'r', 'y']);
  assert.deepEqual(letterChunks('knight', [1, 2, 5]), ['kn', 'igh', 't']);
  assert.deepEqual(letterChunks('through', [0, 2, 3]), ['th', 'r', 'ough']);
});

test('letterChunks: links that go backwards are forced left to right', () => {
  // s linked back to the a; "what" -> h w ɑ t (hama) links h to the h, w to the w.
  assert.deepEqual(letterChunks('false', [0, 1, 2, 1]), ['f', 'a', 'l', 'se']);
  assert.deepEqual(letterChunks('what', [1, 0, 2, 3]), ['w', 'h', 'a', 't']);
  // One wild link does not drag every later chunk after it.
  const chunks = letterChunks('country', [0, 6, 3, 4, 5, 6]);
  covers('country', chunks);
  assert.deepEqual(chunks.slice(2), ['n', 't', 'r', 'y']);
});

test('letterChunks: more phonemes than letters gives empty chunks, after the letter they share', () => {
  assert.deepEqual(letterChunks('box', [0, 1, 2, 2]), ['b', 'o', 'x', '']);
  assert.deepEqual(letterChunks('x', [0, 0, 0]), ['x', '', '']);
  // Korean: every jamo's phoneme links to its syllable.
  assert.deepEqual(letterChunks('국물', [0, 0, 0, 1, 1, 1]), ['국', '', '', '물', '', '']);
});

test('letterChunks: unknown links (-1, out of range) still give a cover of the word', () => {
  for (const links of [[-1, -1, -1, -1], [0, 99, -1, 3], [3, 2, 1, 0]]) {
    const chunks = letterChunks('false', links);
    assert.equal(chunks.length, 4);
    covers('false', chunks);
    assert.ok(chunks.every((c) => c.length > 0), JSON.stringify(chunks));
  }
  assert.deepEqual(letterChunks('false', []), []);
  assert.deepEqual(letterChunks('', [0, 0]), ['', '']);
});

test('letterChunks: every chunking covers the word in order (random links)', () => {
  let seed = 7;
  const rand = (k: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % k;
  };
  for (let trial = 0; trial < 300; trial++) {
    const word = 'abcdefghij'.slice(0, 1 + rand(10));
    const links = Array.from({ length: 1 + rand(12) }, () => rand(word.length + 2) - 1);
    const chunks = letterChunks(word, links);
    assert.equal(chunks.length, links.length);
    covers(word, chunks);
    const empties = chunks.filter((c) => c === '').length;
    assert.equal(empties, Math.max(0, links.length - word.length), `${word} ${JSON.stringify(links)} -> ${JSON.stringify(chunks)}`);
  }
});

test('letterChunks: letters are code points (no split surrogate pairs)', () => {
  assert.deepEqual(letterChunks('a𝒷c', [0, 1, 2]), ['a', '𝒷', 'c']);
});

test("g2pTokens: hama's tokenizer: lower case, whitespace dropped, Hangul split into jamo", () => {
  assert.deepEqual(g2pTokens('Ask'), { tokens: ['a', 's', 'k'], positions: [0, 1, 2] });
  assert.deepEqual(g2pTokens('a b'), { tokens: ['a', 'b'], positions: [0, 2] });
  // 국 = ᄀ ᅮ ᆨ, 물 = ᄆ ᅮ ᆯ, 가 = ᄀ ᅡ (no final).
  assert.deepEqual(g2pTokens('국물가'), {
    tokens: ['\u1100', '\u116e', '\u11a8', '\u1106', '\u116e', '\u11af', '\u1100', '\u1161'],
    positions: [0, 0, 0, 1, 1, 1, 2, 2],
  });
});
