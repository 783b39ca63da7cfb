import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceWords, scorePronunciation, spellNumber, targetTokens, utteranceScore, wordScore } from '../../../src/speech/phonemes/score.js';
import type { LogProbMatrix } from '../../../src/speech/phonemes/alignment.js';
import { peakedMatrix } from '../../helpers/log-probs.js';

const V = 6; // tokens 0-3 are phonemes, 4 the word boundary, 5 the blank
const WB = 4;
const BLANK = 5;
const TOKENS = { blank: BLANK, wordBoundary: WB, notCompetitors: [WB, BLANK] };

const matrix = (winners: number[], p?: number): LogProbMatrix => peakedMatrix(winners, V, p);

test('reference words: lower-case, punctuation stripped, hyphens split, inner apostrophes kept, numbers spelled', () => {
  assert.deepEqual(referenceWords("But, Hagrid -- there's a water-level 9 3/4! 'Quote' I’m 12"), [
    'but',
    'hagrid',
    "there's",
    'a',
    'water',
    'level',
    'nine',
    'three',
    'quarters',
    'quote',
    "i'm",
    'twelve',
  ]);
  assert.equal(spellNumber(0), 'zero');
  assert.equal(spellNumber(42), 'forty two');
  assert.equal(spellNumber(305), 'three hundred and five');
  assert.equal(spellNumber(2026), 'two thousand and twenty six');
  assert.equal(spellNumber(1e6), null);
  assert.deepEqual(referenceWords('  ...  '), []);
});

test('target tokens: a word boundary between words, none around an empty word', () => {
  assert.deepEqual(targetTokens([[0, 1], [], [2]], WB), { ids: [0, 1, WB, 2], owner: [0, 0, -1, 2] });
});

test('the words spoken score near 0 (GOP above 0); the utterance is the mean over phonemes; a wrong word is the lowest', () => {
  //                    word 0        wb    word 1
  const m = matrix([5, 0, 0, 1, 1, 5, 4, 5, 2, 2, 5]);
  const right = scorePronunciation(m, [[0, 1], [2]], TOKENS);
  assert.ok(right);
  assert.equal(right.words.length, 2);
  assert.deepEqual(right.words[0].spans, [
    { start: 1, end: 3 },
    { start: 3, end: 5 },
  ]);
  const gops = right.words.flatMap((w) => w.gop);
  assert.equal(gops.length, 3);
  assert.ok(gops.every((g) => g > 0));
  // Every frame's best token is the forced path's: the ratios against the free loop are all 0.
  const ratios = right.words.flatMap((w) => w.phonemes);
  assert.deepEqual(ratios, [0, 0, 0]);
  assert.equal(right.utterance, 0);
  assert.equal(right.words[0].score, 0);

  // Second word swapped for phoneme 3, never heard: it scores below 0 and below the first word.
  const wrong = scorePronunciation(m, [[0, 1], [3]], TOKENS);
  assert.ok(wrong);
  assert.ok(wrong.words[1].score < 0);
  assert.ok(wrong.words[1].score < wrong.words[0].score);
  assert.ok(wrong.utterance < right.utterance);
});

test('nothing to score, or too few frames, gives null; a word without phonemes scores NaN', () => {
  assert.equal(scorePronunciation(matrix([0, 1]), [[], []], TOKENS), null);
  assert.equal(scorePronunciation(matrix([0, 1]), [[0, 1, 2]], TOKENS), null);
  const r = scorePronunciation(matrix([0, 5, 1]), [[0], [], [1]], TOKENS);
  assert.ok(r);
  assert.ok(Number.isNaN(r.words[1].score));
});

test('a word scores the mean of its two lowest phonemes; the utterance the mean over all phonemes', () => {
  assert.equal(wordScore([-1, -5, 0, -3]), -4);
  assert.equal(wordScore([-2]), -2);
  assert.ok(Number.isNaN(wordScore([])));
  assert.equal(wordScore([-1, -5, 0, -3], 1), -5);
  assert.equal(utteranceScore([[-1, -3], [], [-2]]), -2);
  assert.ok(Number.isNaN(utteranceScore([[], []])));
});

test('a sound inside a word that the target has no phoneme for costs the word', () => {
  // Frames: 0, 3 (not in the target), 1. Target [0, 1]: frame 2 goes to a phoneme or the blank, either way a cost.
  const m = matrix([5, 0, 3, 1, 5]);
  const r = scorePronunciation(m, [[0, 1]], TOKENS);
  assert.ok(r);
  const p = 0.9;
  const shortfall = Math.log((1 - p) / (V - 1)) - Math.log(p);
  assert.ok(Math.abs(r.words[0].phonemes[0] + r.words[0].phonemes[1] - shortfall) < 1e-6);
  assert.ok(Math.abs(r.words[0].score - shortfall / 2) < 1e-6);
});
