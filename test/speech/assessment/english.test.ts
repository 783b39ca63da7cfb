import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { englishWords, phonemeUnits } from '../../../src/speech/assessment/english.js';

const VOCAB = ['<pad>', ' ', 'f', 'ɔ', 'ː', 'l', 's', 'k', 'ʰ', 'ks'];
const NON_PHONEMES = new Set([0, 1]);

describe('phonemeUnits', () => {
  it('joins modifier tokens to the phoneme before them and keeps the first one’s letter link', () => {
    const units = phonemeUnits({ phonemes: ['f', 'ɔ', 'ː', 'l', 's'], letters: [0, 1, 1, 2, 3] }, VOCAB, NON_PHONEMES);
    assert.deepEqual(units, [
      { phonemes: 'f', link: 0, ids: [2] },
      { phonemes: 'ɔː', link: 1, ids: [3, 4] },
      { phonemes: 'l', link: 2, ids: [5] },
      { phonemes: 's', link: 3, ids: [6] },
    ]);
  });

  it('drops specials and phonemes the recogniser does not know', () => {
    const units = phonemeUnits({ phonemes: ['<pad>', 'k', 'ʰ', ' ', 'q'], letters: [0, 0, 0, 1, 1] }, VOCAB, NON_PHONEMES);
    assert.deepEqual(units, [{ phonemes: 'kʰ', link: 0, ids: [7, 8] }]);
  });
});

describe('englishWords', () => {
  it('normalises like the reference text and keeps words with a Latin letter', () => {
    assert.deepEqual(englishWords('Sunday morning, in an ANGRY creditor!'), ['sunday', 'morning', 'in', 'an', 'angry', 'creditor']);
    assert.deepEqual(englishWords('I paid 25 dollars, 안녕'), ['i', 'paid', 'twenty', 'five', 'dollars']);
    assert.deepEqual(englishWords('?!'), []);
  });
});
