/**
 * What a pronunciation assessment answers (issue 16), whatever the language: a 0-100 score for
 * the utterance, and per word of the target its letters cut into chunks, each chunk spelling one
 * phoneme (English) or one syllable (Korean), with that chunk's 0-100 score.
 */
export interface ChunkScore {
  /** The letters (English) or the syllable (Korean) of the word this chunk covers. */
  letters: string;
  /** The phoneme(s) the chunk stands for, in IPA. */
  phonemes: string;
  /** 0-100, integer. */
  score: number;
}

export interface WordAssessment {
  /** The word as written in the target (after normalisation). */
  word: string;
  /** 0-100, integer. */
  score: number;
  chunks: ChunkScore[];
}

export interface Assessment {
  /** The whole utterance, 0-100, integer. */
  score: number;
  words: WordAssessment[];
}

/** A raw score mapped to 0-100 and rounded; non-finite input (nothing aligned) scores 0. */
export function percent(x: number): number {
  if (!Number.isFinite(x)) return 0;
  return Math.max(0, Math.min(100, Math.round(x)));
}
