/**
 * English pronunciation assessment: hama's phoneme recogniser and G2P, CTC forced alignment of the
 * target's phonemes and goodness of pronunciation per phoneme (speech/phonemes), shown as CLOVA
 * does: per word, its letters cut into chunks that each spell one phoneme.
 */
import type { G2pWord } from '../phonemes/g2p.js';
import { letterChunks } from '../phonemes/g2p.js';
import type { PhonemeRecogniser } from '../phonemes/recogniser.js';
import { referenceWords, scorePronunciation } from '../phonemes/score.js';
import { percentScores, phonemePercent } from '../phonemes/calibration.js';
import { mergeUnits, type ScoredUnit } from './details.js';
import { percent, type Assessment, type WordAssessment } from './types.js';

/** Words of an English target: the reference normalisation, then only words with a Latin letter. */
export function englishWords(text: string): string[] {
  return referenceWords(text).filter((w) => /\p{Script=Latin}/u.test(w));
}

/**
 * One phoneme as shown: a G2P token with the modifier tokens after it (`ɔ` + `ː` is `ɔː`, `k` + `ʰ`
 * is `kʰ`), the letter the G2P linked it to, and its recogniser token ids.
 */
export interface PhonemeUnit {
  phonemes: string;
  link: number;
  ids: number[];
}

/** Modifier letters, combining marks and tone letters the G2P writes as tokens of their own. */
const MODIFIER = /^[\p{Lm}\p{M}\p{Sk}˥-˩¹²³⁰⁴⁵⁻]/u;

export function phonemeUnits(g2p: G2pWord, vocab: readonly string[], nonPhonemes: ReadonlySet<number>): PhonemeUnit[] {
  const units: PhonemeUnit[] = [];
  g2p.phonemes.forEach((p, i) => {
    const id = vocab.indexOf(p);
    if (id >= 0 && nonPhonemes.has(id)) return;
    const ids = id >= 0 ? [id] : [];
    const last = units.at(-1);
    if (last !== undefined && MODIFIER.test(p)) {
      last.phonemes += p;
      last.ids.push(...ids);
      return;
    }
    if (ids.length === 0) return;
    units.push({ phonemes: p, link: g2p.letters[i] ?? -1, ids });
  });
  return units;
}

export interface EnglishModels {
  recogniser: PhonemeRecogniser;
  /** A word's phoneme units (from the G2P, which the caller caches: one decoder step per phoneme). */
  units(word: string): Promise<PhonemeUnit[]>;
}

/** Assesses `pcm` (16 kHz) read as `words` (see `englishWords`). */
export async function assessEnglish(models: EnglishModels, pcm: Float32Array, words: readonly string[]): Promise<Assessment> {
  const { recogniser } = models;
  const units: PhonemeUnit[][] = [];
  for (const w of words) units.push(await models.units(w));
  const lp = await recogniser.logProbs(pcm);
  const scored = scorePronunciation(
    { frames: lp.frames, frameCount: lp.frameCount, vocabSize: lp.vocab.length },
    units.map((u) => u.flatMap((x) => x.ids)),
    { blank: recogniser.blank, wordBoundary: recogniser.wordBoundary, notCompetitors: recogniser.nonPhonemes },
  );
  // Not aligned (the clip is shorter than the target needs): every phoneme as bad as can be.
  const raw = units.map((u, i) => scored?.words[i].phonemes ?? u.flatMap((x) => x.ids.map(() => -Infinity)));
  const percents = percentScores(raw);
  const out: WordAssessment[] = words.map((word, i) => {
    let k = 0;
    const unitScores = units[i].map((u) => {
      // A phoneme written as several tokens (ɔ + ː) scores as its worst token.
      const mine = raw[i].slice(k, k + u.ids.length);
      k += u.ids.length;
      return mine.length === 0 ? 0 : phonemePercent(Math.min(...mine));
    });
    const chunks = letterChunks(word, units[i].map((u) => u.link));
    const shown: ScoredUnit[] = units[i].map((u, j) => ({ phonemes: u.phonemes, letters: chunks[j], score: unitScores[j] }));
    return { word, score: percents.words[i], chunks: mergeUnits(shown).map((c) => ({ ...c, score: percent(c.score) })) };
  });
  return { score: percents.utterance, words: out };
}
