import { test } from 'node:test';
import assert from 'node:assert/strict';
import { broadPhoneme, syllableOfPhonemes, syllablePronunciations } from '../../../src/speech/assessment/korean-pronunciation.js';

// hama G2P outputs (phonemes, links) recorded from the model.
const G2P = {
  국물: { phonemes: ['g', 'u', 'ŋ', 'm', 'u', 'l'], letters: [0, 0, 0, 1, 1, 1] },
  같이: { phonemes: ['g', 'a', 't͡ɕʰ', 'i'], letters: [0, 0, 0, 1] },
  생각을: { phonemes: ['s', 'e', 'ŋ', 'g', 'a', 'g', 'ɯ', 'l'], letters: [0, 0, 0, 1, 1, 1, 2, 2] },
  신라: { phonemes: ['s', 'i', 'l', 'l', 'a'], letters: [0, 0, 0, 1, 1] },
  의사: { phonemes: ['ɯi', 's', 'a'], letters: [0, 1, 1] },
  투표하였다: { phonemes: ['tʰ', 'u', 'pʰ', 'jo', 'h', 'a', 'jʌ', 'd', 't͈', 'a'], letters: [0, 0, 1, 1, 2, 2, 3, 3, 4, 4] },
};

test('syllables as pronounced, broad IPA', () => {
  assert.deepEqual(syllablePronunciations('국물', G2P.국물), ['kuŋ', 'mul']);
  assert.deepEqual(syllablePronunciations('같이', G2P.같이), ['ka', 't͡ɕʰi']);
  assert.deepEqual(syllablePronunciations('생각을', G2P.생각을), ['seŋ', 'ka', 'kɯl']);
  assert.deepEqual(syllablePronunciations('신라', G2P.신라), ['sil', 'la']);
  assert.deepEqual(syllablePronunciations('의사', G2P.의사), ['ɯi', 'sa']);
  assert.deepEqual(syllablePronunciations('투표하였다', G2P.투표하였다), ['tʰu', 'pʰjo', 'ha', 'jʌt', 't͈a']);
});

test('a vowel count that does not match the syllables falls back to the links, forced left to right', () => {
  // Three vowels for two syllables: links decide; a backward link is held at the furthest syllable reached.
  assert.deepEqual(syllableOfPhonemes(['k', 'a', 'i', 'm', 'u'], [0, 0, 1, 0, 1], 2), [0, 0, 1, 1, 1]);
  // No link (-1) takes its predecessor's syllable; links past the end are clamped.
  assert.deepEqual(syllableOfPhonemes(['a', 'e', 'i'], [-1, 5, -1], 2), [0, 1, 1]);
  assert.deepEqual(syllableOfPhonemes([], [], 2), []);
});

test('broad phonemes: lenis g d b written k t p, the rest as is', () => {
  assert.deepEqual(['g', 'd', 'b', 'k͈', 't͡ɕ', 'ŋ'].map(broadPhoneme), ['k', 't', 'p', 'k͈', 't͡ɕ', 'ŋ']);
});

test('final ㅆ before ㅇ links as s͈, whatever the G2P wrote', () => {
  // hama: 왔어요 -> w a s ʌ jo; 않았어 -> a n a t͡ɕ ʌ.
  assert.deepEqual(syllablePronunciations('왔어요', { phonemes: ['wa', 's', 'ʌ', 'jo'], letters: [0, 0, 1, 2] }), ['wa', 's͈ʌ', 'jo']);
  assert.deepEqual(syllablePronunciations('않았어', { phonemes: ['a', 'n', 'a', 't͡ɕ', 'ʌ'], letters: [0, 0, 1, 1, 2] }), ['a', 'na', 's͈ʌ']);
  // Already right: unchanged. 있다 (no ㅇ after) untouched.
  assert.deepEqual(syllablePronunciations('있어', { phonemes: ['i', 's͈', 'ʌ'], letters: [0, 1, 1] }), ['i', 's͈ʌ']);
  assert.deepEqual(syllablePronunciations('있다', { phonemes: ['i', 't', 't͈', 'a'], letters: [0, 0, 1, 1] }), ['it', 't͈a']);
});
