import type { Assessment, ChunkScore } from './types.js';

/**
 * CLOVA's `assessment_details` string: per word of the target, `word|{chunk(phonemes):score, ...}`
 * followed by one space, words in order, e.g. `"false|{f(f):45, a(ɔː):100, l(l):97, se(s):43} "`
 * for one word (CLOVA's own example, trailing space included) and
 * `"ask|{a(æ):90, s(s):88, k(k):91} not|{n(n):85, o(ɑ):80, t(t):79} "` for two. Nothing is escaped:
 * words are letters and apostrophes only (see the target normalisation), IPA holds none of `|{}(),:`.
 */
export function formatDetails(assessment: Assessment): string {
  return assessment.words
    .map((w) => `${w.word}|{${w.chunks.map((c) => `${c.letters}(${c.phonemes}):${c.score}`).join(', ')}} `)
    .join('');
}

/** One phoneme as shown, the letters it is linked to, and its score. */
export interface ScoredUnit {
  phonemes: string;
  /** The letters of the word this unit spells; '' when it shares the previous unit's letters (`x` spelling k s). */
  letters: string;
  score: number;
}

/**
 * Chunks for display: a unit without letters of its own (the `s` of `x` = /ks/) joins the chunk
 * before it (or the one after, at the start of a word); a chunk's score is the mean of its units'.
 * Scores are kept as given (callers map to 0-100 before or after).
 */
export function mergeUnits(units: readonly ScoredUnit[]): ChunkScore[] {
  const groups: { letters: string; phonemes: string[]; scores: number[] }[] = [];
  let pending: ScoredUnit[] = [];
  for (const u of units) {
    if (u.letters === '') {
      const last = groups.at(-1);
      if (last) {
        last.phonemes.push(u.phonemes);
        last.scores.push(u.score);
      } else pending.push(u);
      continue;
    }
    groups.push({ letters: u.letters, phonemes: [...pending.map((p) => p.phonemes), u.phonemes], scores: [...pending.map((p) => p.score), u.score] });
    pending = [];
  }
  if (pending.length > 0) groups.push({ letters: '', phonemes: pending.map((p) => p.phonemes), scores: pending.map((p) => p.score) });
  return groups.map((g) => ({
    letters: g.letters,
    phonemes: g.phonemes.join(''),
    score: Math.round(g.scores.reduce((a, b) => a + b, 0) / g.scores.length),
  }));
}
