/**
 * Pronunciation scores of a reference text read aloud (pure: no model): the words' phoneme ids
 * are joined with word-boundary tokens and force-aligned on the recogniser's frames. Each
 * phoneme's raw score is its log-likelihood ratio against a free loop (`freeLoopRatios`) over
 * the frames it owns: its aligned span and half of the blank frames between it and each
 * neighbouring phoneme of the same word (word-boundary tokens are aligned, absorbing pauses, but
 * neither owned nor scored; nor are the blanks before a word's first phoneme or after its
 * last). Its goodness of pronunciation (`goodnessOfPronunciation`) is kept alongside for reference. From the phonemes' ratios (<= 0; 0 = the frames agree with the target):
 *
 * - a word's score is the mean of its `WORD_LOWEST` (2) lowest (`wordScore`): a word is as good
 *   as its worst phonemes, so one wrong phoneme is not averaged away by the right ones;
 * - the utterance's score is the mean over all the target's phonemes (`utteranceScore`; each
 *   phoneme weighs the same, so long words count more than short ones).
 *
 * Measured against the former scores (mean GOP per word and per utterance) and other variants in
 * bench/assessment-experiments.ts; the figures are in docs/benchmarks.md ("Pronunciation
 * assessment: scoring experiments"). The raw scores map to 0-100 in calibration.ts.
 */
import { forcedAlign, freeLoopRatios, goodnessOfPronunciation, type LogProbMatrix, type TokenSpan } from './alignment.js';

/**
 * The normalisation of reference text before G2P: lower-case; a fraction n/d of digits is read
 * ("3/4" -> "three quarters"); hyphens, slashes and dashes become spaces; every character other
 * than a letter, a digit, an apostrophe or whitespace is dropped; apostrophes at the edges of a
 * word are dropped (inner ones, as in "i'm", kept: the G2P knows them); a number of digits below
 * a million is spelled in English words (the G2P reads digits one by one, and badly).
 */
export const REFERENCE_NORMALISATION =
  'lower-case; n/d fractions read; - / – — become spaces; characters other than letters, digits, apostrophes and spaces dropped; apostrophes at word edges dropped; numbers < 1e6 spelled in English';

const ONES = 'zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen'.split(' ');
const TENS = ' ten twenty thirty forty fifty sixty seventy eighty ninety'.split(' ');

/** An integer in [0, 1e6) in English words ("twenty one", "three hundred and five"); null outside. */
export function spellNumber(n: number): string | null {
  if (!Number.isInteger(n) || n < 0 || n >= 1e6) return null;
  if (n < 20) return ONES[n];
  if (n < 100) return TENS[Math.floor(n / 10)] + (n % 10 === 0 ? '' : ' ' + ONES[n % 10]);
  if (n < 1000) return `${ONES[Math.floor(n / 100)]} hundred` + (n % 100 === 0 ? '' : ` and ${spellNumber(n % 100) as string}`);
  return `${spellNumber(Math.floor(n / 1000)) as string} thousand` + (n % 1000 === 0 ? '' : ` ${n % 1000 < 100 ? 'and ' : ''}${spellNumber(n % 1000) as string}`);
}

const DENOMINATORS: Record<string, [string, string]> = { '2': ['half', 'halves'], '3': ['third', 'thirds'], '4': ['quarter', 'quarters'] };

function spellFraction(num: string, den: string): string {
  const n = Number(num);
  const names = DENOMINATORS[den];
  if (names === undefined) return `${num} over ${den}`;
  return `${num} ${n === 1 ? names[0] : names[1]}`;
}

export function referenceWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/\b(\d+)\/(\d+)\b/gu, (_, n: string, d: string) => spellFraction(n, d))
    .replace(/[-/\u2010-\u2015]/gu, ' ')
    .replace(/[\u2018\u2019\u02bc]/gu, "'")
    .replace(/[^\p{L}\p{M}\p{N}'\s]/gu, '')
    .split(/\s+/u)
    .map((w) => w.replace(/^'+|'+$/gu, ''))
    .flatMap((w) => (/^\d+$/u.test(w) ? (spellNumber(Number(w)) ?? w).split(' ') : [w]))
    .filter((w) => w !== '');
}

export interface ScoreTokens {
  blank: number;
  wordBoundary: number;
  /** Tokens that never compete with a target phoneme in GOP (the blank, the word boundary, specials). */
  notCompetitors: readonly number[];
}

export interface WordScore {
  /** Per phoneme of the word, its log-likelihood ratio against a free loop (<= 0), the phoneme's raw score. */
  phonemes: number[];
  /** Per phoneme of the word, its GOP (for reference; not used in the scores). */
  gop: number[];
  /** Per phoneme of the word, its aligned frames. */
  spans: TokenSpan[];
  /** `wordScore(phonemes)`; NaN for a word without phonemes. */
  score: number;
}

export interface PronunciationScore {
  /** `utteranceScore` of every word's phonemes. */
  utterance: number;
  /** One per input word, in order. */
  words: WordScore[];
  /** The alignment path's log-probability. */
  logProb: number;
}

/** Target token ids for `words`, a word boundary between neighbours, and who owns each token (-1: a boundary). */
export function targetTokens(words: readonly (readonly number[])[], wordBoundary: number): { ids: number[]; owner: number[] } {
  const ids: number[] = [];
  const owner: number[] = [];
  let first = true;
  words.forEach((w, i) => {
    if (w.length === 0) return;
    if (!first) {
      ids.push(wordBoundary);
      owner.push(-1);
    }
    first = false;
    for (const id of w) {
      ids.push(id);
      owner.push(i);
    }
  });
  return { ids, owner };
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);

/**
 * The raw score at most of each phoneme when the recogniser heard no phoneme at all: below what a
 * wrong word's phonemes score (the median swapped-in word is about −10, see calibration.ts), so
 * silence read as a sentence scores lower than another sentence.
 */
export const NOT_HEARD = -12;

/** How many of a word's lowest phoneme scores make its score. */
export const WORD_LOWEST = 2;

/** A word's raw score from its phonemes' raw scores: the mean of the `lowest` lowest (all if fewer); NaN for none. */
export function wordScore(phonemes: readonly number[], lowest = WORD_LOWEST): number {
  return mean([...phonemes].sort((a, b) => a - b).slice(0, lowest));
}

/** The utterance's raw score: the mean over every phoneme of every word; NaN for none. */
export function utteranceScore(words: readonly (readonly number[])[]): number {
  return mean(words.flat());
}

/**
 * Scores `words` (each a list of phoneme token ids; a word with none is kept, scored NaN) against
 * the frames. Returns null when there is nothing to score or the clip is too short for the target.
 */
export function scorePronunciation(lp: LogProbMatrix, words: readonly (readonly number[])[], tokens: ScoreTokens): PronunciationScore | null {
  const { ids, owner } = targetTokens(words, tokens.wordBoundary);
  if (ids.length === 0) return null;
  const alignment = forcedAlign(lp, ids, tokens.blank);
  if (alignment === null) return null;
  const { spans } = alignment;
  const gop = goodnessOfPronunciation(lp, ids, spans, { notCompetitors: tokens.notCompetitors });
  // A phoneme owns its span and half of the blank frames to each neighbouring phoneme of its word
  // (the middle frame of an odd gap goes to the earlier one).
  const same = (k: number, j: number): boolean => j >= 0 && j < ids.length && owner[j] === owner[k];
  const mid = (a: number, b: number): number => a + Math.ceil((b - a) / 2);
  const owned = spans.map((s, k) => ({
    start: same(k, k - 1) ? mid(spans[k - 1].end, s.start) : s.start,
    end: same(k, k + 1) ? mid(s.end, spans[k + 1].start) : s.end,
  }));
  const llr = freeLoopRatios(lp, ids, spans, owned, tokens.blank);
  const scored: WordScore[] = words.map(() => ({ phonemes: [], gop: [], spans: [], score: NaN }));
  owner.forEach((w, k) => {
    if (w < 0) return;
    scored[w].phonemes.push(llr[k]);
    scored[w].gop.push(gop[k]);
    scored[w].spans.push(spans[k]);
  });
  // A clip in which the recogniser's best token is never a phoneme over the target's frames holds
  // no speech of it (silence, noise): every phoneme scores NOT_HEARD at best. The ratio alone
  // would not say so: squeezed into one frame each, a phoneme costs only that frame. Per word the
  // same rule costs more than it gives: read function words the recogniser reduces to nothing
  // would score as low as a wrong word (swapped-word detection 91.9% -> 81.9%, bench/assessment.ts).
  const phoneme = new Uint8Array(lp.vocabSize).fill(1);
  for (const id of tokens.notCompetitors) phoneme[id] = 0;
  phoneme[tokens.blank] = 0;
  const silent = !heard(lp, spans[0].start, (spans.at(-1) as TokenSpan).end, phoneme);
  for (const w of scored) {
    if (silent) w.phonemes = w.phonemes.map((x) => Math.min(x, NOT_HEARD));
    w.score = wordScore(w.phonemes);
  }
  return { utterance: utteranceScore(scored.map((w) => w.phonemes)), words: scored, logProb: alignment.logProb };
}

/** Whether some frame in [start, end) has a phoneme (`isPhoneme[token] === 1`) as its best token. */
function heard(lp: LogProbMatrix, start: number, end: number, isPhoneme: Uint8Array): boolean {
  const { frames, vocabSize: V } = lp;
  for (let t = start; t < end; t++) {
    const row = t * V;
    let best = 0;
    for (let v = 1; v < V; v++) if (frames[row + v] > frames[row + best]) best = v;
    if (isPhoneme[best] === 1) return true;
  }
  return false;
}

/**
 * A word's G2P phonemes as recogniser token ids, leaving out what the recogniser does not know or
 * does not count as a phoneme (the G2P can emit specials such as a space).
 */
export function phonemeTargets(vocab: readonly string[], nonPhonemes: readonly number[], phonemes: readonly string[]): number[] {
  const skip = new Set(nonPhonemes);
  return phonemes.flatMap((p) => {
    const id = vocab.indexOf(p);
    return id < 0 || skip.has(id) ? [] : [id];
  });
}
