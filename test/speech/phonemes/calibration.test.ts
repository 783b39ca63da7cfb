import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PHONEME_CALIBRATION,
  WORD_CALIBRATION,
  calibrate,
  percentScores,
  phonemePercent,
  utterancePercent,
  wordPercent,
} from '../../../src/speech/phonemes/calibration.js';

test('calibration: 100 at a raw 0 and above, falling monotonically, 0 for nothing aligned', () => {
  for (const cal of [PHONEME_CALIBRATION, WORD_CALIBRATION]) {
    assert.equal(calibrate(0, cal), 100);
    assert.equal(calibrate(0.5, cal), 100);
    assert.equal(calibrate(-Infinity, cal), 0);
    assert.equal(calibrate(NaN, cal), 0);
    let prev = 100;
    for (let x = -0.25; x >= -30; x -= 0.25) {
      const p = calibrate(x, cal);
      assert.ok(p < prev && p > 0, `${x}: ${p}`);
      prev = p;
    }
  }
});

test('calibration: the fit points (correct p10 -> 80, wrong median -> 20)', () => {
  assert.ok(Math.abs(phonemePercent(-2.11) - 80) < 0.5);
  assert.ok(Math.abs(phonemePercent(-8.03) - 20) < 0.5);
  assert.ok(Math.abs(wordPercent(-3.13) - 80) < 0.5);
  assert.ok(Math.abs(wordPercent(-10.05) - 20) < 0.5);
});

test('utterance: the mean of the words; NaN for none', () => {
  assert.equal(utterancePercent([100, 50, 0]), 50);
  assert.ok(Number.isNaN(utterancePercent([])));
});

test('percent scores: integers per phoneme and word; a word without phonemes scores 0 and is left out of the utterance', () => {
  const r = percentScores([[0, 0, 0], [], [0, -10.05, -10.05]]);
  assert.deepEqual(r.phonemes, [[100, 100, 100], [], [100, 10, 10]]);
  assert.deepEqual(r.words, [100, 0, 20]);
  assert.equal(r.utterance, 60);
  assert.deepEqual(percentScores([]), { phonemes: [], words: [], utterance: 0 });
  for (const x of [...r.phonemes.flat(), ...r.words, r.utterance]) assert.ok(Number.isInteger(x));
});
