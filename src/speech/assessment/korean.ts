/**
 * Korean pronunciation assessment (issue 16), pure: no model here. Sori has no Korean phoneme
 * recogniser; instead Whisper's decoder is forced through the target text given the audio
 * (src/speech/whisper/forced-text.ts) and the log-probabilities of its tokens are the evidence.
 * A syllable said as written gets its tokens near log-prob 0; a syllable said otherwise (or not
 * at all) gets a token the model did not expect.
 *
 * Steps (see `koreanAssessment`):
 * 1. `koreanTarget(text)`: the text the decoder is forced through and its scored words (runs of
 *    Hangul syllables) with their character ranges in it.
 * 2. Forced decoding of `target.text` against the audio's window (and, only for the 'pmi'
 *    feature, against a silent window: the text's prior without audio; the default does not).
 * 3. Per token a value (`TokenFeature`); per syllable the values of the tokens touching it,
 *    combined; per word the syllables, combined; per utterance the syllable-weighted mean of words.
 * 4. Raw scores mapped to 0-100 by a logistic fitted on the testdata (bench/assessment-ko.ts).
 */
import type { G2pWord } from '../phonemes/g2p.js';
import { syllablePronunciations } from './korean-pronunciation.js';
import { percent, type Assessment, type WordAssessment } from './types.js';

/**
 * Target text normalisation. Whitespace is collapsed; the text is otherwise forced as written,
 * punctuation included (Whisper writes punctuation, and its decoder expects it). Each
 * whitespace-separated token is cut at hyphens, slashes and middle dots; its leading and trailing
 * punctuation is dropped; a token of Hangul syllables only is a scored word. A token holding
 * digits, Latin letters or other scripts ("64.5%에", "KTX") is not scored: Korean numbers are read
 * Sino-Korean or native depending on what follows (육십사쩜오 / 예순넷), so the syllables the speaker
 * should say are not known; it stays in the forced text so the decoder still follows the audio.
 * To have numbers assessed, spell them out in Hangul in the target.
 */
export const KOREAN_NORMALISATION =
  'whitespace collapsed, text forced as written; words = whitespace tokens cut at - / · and stripped of edge punctuation; a word of Hangul syllables only is scored, any other (digits, Latin, mixed) is forced but not scored';

export interface KoreanWordSpan {
  word: string;
  /** Code point index of the word's first syllable in `KoreanTarget.text`. */
  start: number;
  /** One past its last. */
  end: number;
}

export interface KoreanTarget {
  /** What the decoder is forced through (the decoder sees ' ' + text). */
  text: string;
  /** Scored words, in order. */
  words: KoreanWordSpan[];
  /** Tokens forced but not scored (numbers, Latin, mixed). */
  unscored: string[];
}

const HANGUL_SYLLABLE = /^[\uac00-\ud7a3]+$/u;
const SPLIT = /[-/·‧・\u2010-\u2015]/u;

export function isHangulWord(w: string): boolean {
  return HANGUL_SYLLABLE.test(w);
}

export function koreanTarget(text: string): KoreanTarget {
  const clean = text.normalize('NFC').replace(/\s+/gu, ' ').trim();
  const chars = Array.from(clean);
  const words: KoreanWordSpan[] = [];
  const unscored: string[] = [];
  // Walk tokens (maximal runs of non-space, non-split characters) with their code point offsets.
  let i = 0;
  while (i < chars.length) {
    if (chars[i] === ' ' || SPLIT.test(chars[i])) {
      i++;
      continue;
    }
    let j = i;
    while (j < chars.length && chars[j] !== ' ' && !SPLIT.test(chars[j])) j++;
    // Strip edge punctuation and symbols.
    let a = i;
    let b = j;
    while (a < b && /[\p{P}\p{S}]/u.test(chars[a])) a++;
    while (b > a && /[\p{P}\p{S}]/u.test(chars[b - 1])) b--;
    const word = chars.slice(a, b).join('');
    if (word !== '') {
      if (isHangulWord(word)) words.push({ word, start: a, end: b });
      else unscored.push(word);
    }
    i = j;
  }
  return { text: clean, words, unscored };
}

/** What scoring needs of a forced token (see ForcedToken in src/speech/whisper/forced-text.ts). */
export interface TokenLogProb {
  /** Code point range of `KoreanTarget.text` the token's bytes touch. */
  start: number;
  end: number;
  logProb: number;
  bestLogProb: number;
}

/**
 * - logProb: log P(token | audio, text so far).
 * - margin: logProb - the best token's log-prob at that position (<= 0; a GOP-like "how far from
 *   the model's first choice").
 * - pmi: logProb - log P(token | silent window, text so far): the audio's evidence, with the
 *   language model's share taken out.
 */
export type TokenFeature = 'logProb' | 'margin' | 'pmi';
export type Combine = 'sum' | 'mean' | 'min' | 'first';

export interface KoreanScoring {
  feature: TokenFeature;
  /** Tokens touching one syllable: sum (joint log-prob of its bytes), mean, min or first. */
  syllable: Combine;
  /** Syllables of a word. */
  word: Combine;
  /** Raw -> 0-100: 100 / (1 + exp(-scale (raw - centre))). */
  calibration: { scale: number; centre: number };
}

/**
 * Chosen on the tuning half of bench/assessment-ko.ts (140 clips, seed 16; tuning / evaluation):
 * log-prob summed per syllable, a word's lowest syllable: swapped word lowest 97.2% / 98.5%, a
 * changed syllable lowest 93.1% / 91.2%, AUC 1.000 / 1.000. 'pmi' (the prior from a silent window
 * taken out) caught swapped words at 100% but changed syllables at only 66-77%; 'margin' was a
 * little worse than the plain log-prob everywhere; a word's mean or sum let a wrong syllable hide
 * among right ones (changed-syllable word lowest 90% with mean vs 98.6% with min). Calibration:
 * logistic fitted on the tuning half's words (said vs swapped or from another clip's reference).
 */
export const DEFAULT_KOREAN_SCORING: KoreanScoring = {
  feature: 'logProb',
  syllable: 'sum',
  word: 'min',
  calibration: { scale: 1.074, centre: -4.772 },
};

export function tokenValues(tokens: readonly TokenLogProb[], feature: TokenFeature, prior?: readonly TokenLogProb[]): number[] {
  if (feature === 'pmi' && (prior === undefined || prior.length !== tokens.length)) throw new Error('pmi needs the prior tokens of the same text');
  return tokens.map((t, i) => (feature === 'logProb' ? t.logProb : feature === 'margin' ? t.logProb - t.bestLogProb : t.logProb - (prior as TokenLogProb[])[i].logProb));
}

export function combine(xs: readonly number[], how: Combine): number {
  if (xs.length === 0) return NaN;
  switch (how) {
    case 'sum':
      return xs.reduce((s, x) => s + x, 0);
    case 'mean':
      return xs.reduce((s, x) => s + x, 0) / xs.length;
    case 'min':
      return Math.min(...xs);
    case 'first':
      return xs[0];
  }
}

/**
 * Per scored word, per syllable: the values of the tokens whose range holds the syllable,
 * combined. A token spanning several syllables gives each its whole value; a syllable spanning
 * several tokens combines theirs. NaN for a syllable no token touches (cannot happen with a
 * consistent tokenisation).
 */
export function syllableRawScores(words: readonly KoreanWordSpan[], tokens: readonly TokenLogProb[], values: readonly number[], how: Combine): number[][] {
  return words.map((w) => {
    const out: number[] = [];
    for (let c = w.start; c < w.end; c++) {
      const vs: number[] = [];
      tokens.forEach((t, k) => {
        if (t.start <= c && c < t.end) vs.push(values[k]);
      });
      out.push(combine(vs, how));
    }
    return out;
  });
}

export interface KoreanRawScores {
  syllables: number[][];
  words: number[];
  /** Syllable-weighted mean of the words' raw scores; NaN without scored words. */
  utterance: number;
}

export function koreanRawScores(
  target: KoreanTarget, tokens: readonly TokenLogProb[], scoring: Pick<KoreanScoring, 'feature' | 'syllable' | 'word'>, prior?: readonly TokenLogProb[],
): KoreanRawScores {
  const values = tokenValues(tokens, scoring.feature, prior);
  const syllables = syllableRawScores(target.words, tokens, values, scoring.syllable);
  const words = syllables.map((s) => combine(s, scoring.word));
  let sum = 0;
  let n = 0;
  words.forEach((w, i) => {
    sum += w * syllables[i].length;
    n += syllables[i].length;
  });
  return { syllables, words, utterance: n > 0 ? sum / n : NaN };
}

export function calibrate(raw: number, cal: KoreanScoring['calibration']): number {
  if (!Number.isFinite(raw)) return 0;
  return 100 / (1 + Math.exp(-cal.scale * (raw - cal.centre)));
}

/**
 * One-dimensional logistic regression by Newton's method: P(positive | x) = 1 / (1 + exp(-scale
 * (x - centre))), fitted to raw scores of positives (said as written) and negatives (not), with a
 * small ridge so separable data still gives a finite slope.
 */
export function fitLogistic(pos: readonly number[], neg: readonly number[], ridge = 1e-3): { scale: number; centre: number } {
  const xs = [...pos, ...neg].filter(Number.isFinite);
  const ys = [...pos.map(() => 1), ...neg.map(() => 0)].filter((_, i) => Number.isFinite([...pos, ...neg][i]));
  let w = 0;
  let b = 0;
  for (let it = 0; it < 100; it++) {
    let gw = -ridge * w, gb = 0, hww = ridge, hwb = 0, hbb = 1e-9;
    for (let i = 0; i < xs.length; i++) {
      const p = 1 / (1 + Math.exp(-(w * xs[i] + b)));
      const r = ys[i] - p;
      const v = p * (1 - p);
      gw += r * xs[i];
      gb += r;
      hww += v * xs[i] * xs[i];
      hwb += v * xs[i];
      hbb += v;
    }
    const det = hww * hbb - hwb * hwb;
    if (!(Math.abs(det) > 1e-12)) break;
    const dw = (hbb * gw - hwb * gb) / det;
    const db = (hww * gb - hwb * gw) / det;
    w += dw;
    b += db;
    if (Math.abs(dw) < 1e-9 && Math.abs(db) < 1e-9) break;
  }
  return { scale: w, centre: w === 0 ? 0 : -b / w };
}

/**
 * The assessment of a Korean target from its forced decoding. `pronunciations` holds, per scored
 * word (in `target.words` order), the G2P output for it (see `syllablePronunciations`); a missing
 * entry leaves the chunks' phonemes empty. Chunk = syllable (its standard pronunciation in broad
 * IPA, its calibrated score); word = calibrated word raw score; utterance = syllable-weighted mean
 * of the word percents (0 without scored words).
 */
export function koreanAssessment(
  target: KoreanTarget,
  tokens: readonly TokenLogProb[],
  pronunciations: readonly (G2pWord | undefined)[],
  scoring: KoreanScoring = DEFAULT_KOREAN_SCORING,
  prior?: readonly TokenLogProb[],
): Assessment {
  const raw = koreanRawScores(target, tokens, scoring, prior);
  const words: WordAssessment[] = target.words.map((w, i) => {
    const syllables = Array.from(w.word);
    const g2p = pronunciations[i];
    const ipa = g2p === undefined ? syllables.map(() => '') : syllablePronunciations(w.word, g2p);
    return {
      word: w.word,
      score: percent(calibrate(raw.words[i], scoring.calibration)),
      chunks: syllables.map((s, k) => ({ letters: s, phonemes: ipa[k], score: percent(calibrate(raw.syllables[i][k], scoring.calibration)) })),
    };
  });
  let sum = 0;
  let n = 0;
  words.forEach((w) => {
    sum += w.score * w.chunks.length;
    n += w.chunks.length;
  });
  return { score: n > 0 ? percent(sum / n) : 0, words };
}
