/**
 * The target text of an assessment, checked before any audio is decoded: what CLOVA's
 * `utterance` may hold.
 */
import { englishWords } from './english.js';
import type { AssessedLanguage } from './assessor.js';
import { koreanTarget } from './korean.js';

/** Longest `utterance` accepted, in characters (code points). */
export const MAX_TARGET_CHARS = 500;


/** The words that will be assessed, in order; none means the text has no word in the language. */
export function targetWords(language: AssessedLanguage, text: string): string[] {
  return language === 'en' ? englishWords(text) : koreanTarget(text).words.map((w) => w.word);
}

export type TargetProblem = 'empty' | 'too-long' | 'no-word';

/** Why `text` cannot be a target, or undefined when it can. */
export function targetProblem(language: AssessedLanguage, text: string): TargetProblem | undefined {
  if (text.trim() === '') return 'empty';
  if ([...text].length > MAX_TARGET_CHARS) return 'too-long';
  if (targetWords(language, text).length === 0) return 'no-word';
  return undefined;
}
