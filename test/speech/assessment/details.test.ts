import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDetails, mergeUnits } from '../../../src/speech/assessment/details.js';
import { percent } from '../../../src/speech/assessment/types.js';

describe('formatDetails', () => {
  it("writes CLOVA's example exactly, trailing space included", () => {
    const details = formatDetails({
      score: 14,
      words: [{ word: 'false', score: 71, chunks: [{ letters: 'f', phonemes: 'f', score: 45 }, { letters: 'a', phonemes: 'ɔː', score: 100 }, { letters: 'l', phonemes: 'l', score: 97 }, { letters: 'se', phonemes: 's', score: 43 }] }],
    });
    assert.equal(details, 'false|{f(f):45, a(ɔː):100, l(l):97, se(s):43} ');
  });

  it('writes one entry per word, in order, each followed by a space; nothing for no words', () => {
    const word = (w: string, score: number) => ({ word: w, score, chunks: [{ letters: w, phonemes: w, score }] });
    assert.equal(formatDetails({ score: 50, words: [word('국', 80), word('물', 20)] }), '국|{국(국):80} 물|{물(물):20} ');
    assert.equal(formatDetails({ score: 0, words: [] }), '');
  });
});

describe('mergeUnits', () => {
  it('a unit without letters joins the chunk before it, scores averaged (x spelling k s)', () => {
    assert.deepEqual(
      mergeUnits([
        { phonemes: 'b', letters: 'b', score: 90 },
        { phonemes: 'ɑ', letters: 'o', score: 80 },
        { phonemes: 'k', letters: 'x', score: 70 },
        { phonemes: 's', letters: '', score: 50 },
      ]),
      [{ letters: 'b', phonemes: 'b', score: 90 }, { letters: 'o', phonemes: 'ɑ', score: 80 }, { letters: 'x', phonemes: 'ks', score: 60 }],
    );
  });

  it('letterless units at the start of a word join the first chunk', () => {
    assert.deepEqual(mergeUnits([{ phonemes: 'j', letters: '', score: 10 }, { phonemes: 'u', letters: 'u', score: 30 }]), [{ letters: 'u', phonemes: 'ju', score: 20 }]);
    assert.deepEqual(mergeUnits([{ phonemes: 'ə', letters: '', score: 10 }]), [{ letters: '', phonemes: 'ə', score: 10 }]);
  });
});

describe('percent', () => {
  it('rounds into 0-100; anything not finite is 0', () => {
    assert.equal(percent(42.4), 42);
    assert.equal(percent(-3), 0);
    assert.equal(percent(130), 100);
    assert.equal(percent(NaN), 0);
    assert.equal(percent(-Infinity), 0);
  });
});
