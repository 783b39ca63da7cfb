import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  calibrate, combine, fitLogistic, koreanAssessment, koreanRawScores, koreanTarget, syllableRawScores, tokenValues, type TokenLogProb,
} from '../../../src/speech/assessment/korean.js';

test('target: whitespace collapsed, punctuation kept in the text, Hangul words scored, others forced only', () => {
  const t = koreanTarget('  선거 결과,  투표율 64.5%에 "찬성" KTX-열차 말·글 ');
  assert.equal(t.text, '선거 결과, 투표율 64.5%에 "찬성" KTX-열차 말·글');
  assert.deepEqual(t.words.map((w) => w.word), ['선거', '결과', '투표율', '찬성', '열차', '말', '글']);
  assert.deepEqual(t.unscored, ['64.5%에', 'KTX']);
  const chars = Array.from(t.text);
  for (const w of t.words) assert.equal(chars.slice(w.start, w.end).join(''), w.word);
  assert.deepEqual(koreanTarget('...').words, []);
});

const tok = (start: number, end: number, logProb: number, bestLogProb = Math.max(logProb, -0.1)): TokenLogProb => ({ start, end, logProb, bestLogProb });

test('syllable scores: a token over several syllables gives each its value, a syllable over several tokens combines them', () => {
  // '조금만 국물': 조 [0,1], 금 split over two tokens [1,2] and [1,3] (with 만), ' 국물' one token [3,6].
  const target = koreanTarget('조금만 국물');
  const tokens = [tok(0, 1, -1), tok(1, 2, -2), tok(1, 3, -3), tok(3, 6, -4)];
  const values = tokenValues(tokens, 'logProb');
  assert.deepEqual(syllableRawScores(target.words, tokens, values, 'sum'), [[-1, -5, -3], [-4, -4]]);
  assert.deepEqual(syllableRawScores(target.words, tokens, values, 'min'), [[-1, -3, -3], [-4, -4]]);
  const raw = koreanRawScores(target, tokens, { feature: 'logProb', syllable: 'sum', word: 'mean' });
  assert.deepEqual(raw.words, [-3, -4]);
  assert.equal(raw.utterance, (-3 * 3 + -4 * 2) / 5);
});

test('token features: margin to the best token, pmi against the prior', () => {
  const tokens = [tok(0, 1, -2, -0.5)];
  assert.deepEqual(tokenValues(tokens, 'margin'), [-1.5]);
  assert.deepEqual(tokenValues(tokens, 'pmi', [tok(0, 1, -5)]), [3]);
  assert.throws(() => tokenValues(tokens, 'pmi'));
  assert.equal(combine([3, 1, 2], 'first'), 3);
  assert.equal(combine([3, 1, 2], 'min'), 1);
  assert.equal(combine([3, 1, 2], 'mean'), 2);
  assert.ok(Number.isNaN(combine([], 'sum')));
});

test('calibration: logistic, non-finite scores 0; the fit separates and orders', () => {
  assert.equal(calibrate(-3, { scale: 1, centre: -3 }), 50);
  assert.equal(calibrate(NaN, { scale: 1, centre: -3 }), 0);
  const fit = fitLogistic([-0.1, -0.5, -1, -2.5, -0.2], [-9, -12, -4, -7, -2]);
  assert.ok(fit.scale > 0);
  assert.ok(fit.centre < -1 && fit.centre > -7, `centre ${fit.centre}`);
  assert.ok(calibrate(-0.1, fit) > 80 && calibrate(-12, fit) < 20);
});

test('assessment: words, syllable chunks with IPA, utterance = syllable-weighted mean of words', () => {
  const target = koreanTarget('국물 맛');
  const tokens = [tok(0, 1, -0.1), tok(1, 2, -0.1), tok(2, 4, -9)];
  const g2p = [{ phonemes: ['g', 'u', 'ŋ', 'm', 'u', 'l'], letters: [0, 0, 0, 1, 1, 1] }, undefined];
  const a = koreanAssessment(target, tokens, g2p, { feature: 'logProb', syllable: 'sum', word: 'mean', calibration: { scale: 1, centre: -3 } });
  assert.deepEqual(a.words.map((w) => w.word), ['국물', '맛']);
  assert.deepEqual(a.words[0].chunks.map((c) => `${c.letters}(${c.phonemes})`), ['국(kuŋ)', '물(mul)']);
  assert.deepEqual(a.words[1].chunks, [{ letters: '맛', phonemes: '', score: 0 }]);
  assert.equal(a.words[0].score, 95);
  assert.equal(a.score, Math.round((95 * 2 + 0) / 3));
});
