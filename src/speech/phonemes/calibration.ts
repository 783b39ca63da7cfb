/**
 * Raw pronunciation scores (score.ts: log-likelihood ratios against a free phoneme loop, <= 0,
 * 0 when the audio agrees with the target) mapped to 0-100 (pure: no model).
 *
 * Each level (phoneme, word) has a logistic in the raw score, scaled so that a raw 0 (nothing
 * better heard than the target) is exactly 100:
 *
 *   percent(x) = 100 · σ((x − centre) / scale) / σ(−centre / scale),  x <= 0   (100 for x >= 0)
 *
 * The utterance is the mean of its words' percents (words without phonemes left out), so it reads
 * as "the average word".
 *
 * Fit (bench/assessment-experiments.ts, 2026-12-06; hama 1.3.13 recogniser and G2P; the 17
 * English testdata clips with a reference, <= 30 s): two points per level,
 *
 *   - correct: the 10th percentile of the raw scores of every phoneme / word of every clip scored
 *     against its own reference maps to 80, so 90% of what was read as written scores >= 80
 *     (the median is a raw 0, i.e. 100): phoneme p10 −2.11, word p10 −3.13;
 *   - wrong: the median of a swapped word (the bench's one-word swap, seeds 1-20, 340 words) maps
 *     to 20: word median −10.05; for phonemes, the median over the swapped words' phonemes that
 *     the original word does not have (1386): −8.03.
 *
 * Check on held-out swaps (seeds 21-40): median swapped word −10.68 -> 17. These are figures of
 * read and acted English speech by native speakers; learners' speech has not been measured
 * (no scored learner data set is available here).
 */
import { percent } from '../assessment/types.js';
import { wordScore } from './score.js';

export interface Logistic {
  /** Raw score at the logistic's midpoint (before the scaling to 100 at 0). */
  centre: number;
  /** Raw-score units per unit of log-odds. */
  scale: number;
}

/** Phoneme raw score (its free-loop log-likelihood ratio) to 0-100: −2.11 -> 80, −8.03 -> 20. */
export const PHONEME_CALIBRATION: Logistic = { centre: -3.58, scale: 2.67 };
/** Word raw score (the mean of its two lowest phoneme scores) to 0-100: −3.13 -> 80, −10.05 -> 20. */
export const WORD_CALIBRATION: Logistic = { centre: -5.55, scale: 2.9 };

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** A raw score to 0-100 (not rounded) with `cal`: 100 at 0 and above, falling towards 0; NaN or −∞ give 0. */
export function calibrate(raw: number, cal: Logistic): number {
  if (Number.isNaN(raw) || raw === -Infinity) return 0;
  if (raw >= 0) return 100;
  return (100 * sigmoid((raw - cal.centre) / cal.scale)) / sigmoid(-cal.centre / cal.scale);
}

export const phonemePercent = (raw: number): number => calibrate(raw, PHONEME_CALIBRATION);
export const wordPercent = (raw: number): number => calibrate(raw, WORD_CALIBRATION);

/** The utterance's 0-100 (not rounded): the mean of its words' 0-100 scores; NaN when there are none. */
export function utterancePercent(wordPercents: readonly number[]): number {
  if (wordPercents.length === 0) return NaN;
  return wordPercents.reduce((a, b) => a + b, 0) / wordPercents.length;
}

export interface PercentScores {
  /** Per word, per phoneme, 0-100 integer. */
  phonemes: number[][];
  /** Per word, 0-100 integer (a word without phonemes: 0). */
  words: number[];
  /** The utterance, 0-100 integer: the mean of the words that have phonemes (0 when none has). */
  utterance: number;
}

/**
 * 0-100 integer scores from the raw phoneme scores of each word (`WordScore.phonemes` of
 * `scorePronunciation`, in word order): per phoneme its calibrated score, per word its raw score
 * (`wordScore`) calibrated, the utterance the mean of the words' unrounded percents.
 */
export function percentScores(words: readonly (readonly number[])[]): PercentScores {
  const wordPercents = words.map((w) => (w.length === 0 ? NaN : wordPercent(wordScore(w))));
  return {
    phonemes: words.map((w) => w.map((x) => percent(phonemePercent(x)))),
    words: wordPercents.map((p) => percent(p)),
    utterance: percent(utterancePercent(wordPercents.filter((p) => !Number.isNaN(p)))),
  };
}
