/**
 * Query string of POST /recog/v1/stt (spec section 1), validated at the edge.
 */
import { z } from 'zod';
import type { Language } from '../config.js';
import { ClovaShortError } from './short-errors.js';
import { isAssessedLanguage } from '../speech/assessment/assessor.js';
import { MAX_TARGET_CHARS, targetProblem } from '../speech/assessment/target.js';

/** CLOVA language names -> engine language codes. */
const LANGUAGE_BY_NAME: Readonly<Record<string, Language>> = { kor: 'ko', eng: 'en', jpn: 'ja', chn: 'zh' };

export const BOOSTINGS_MAX_CHARS = 512;
/** CLOVA ignores shorter keywords; so do we. */
export const BOOSTING_MIN_CHARS = 3;

export interface ShortQuery {
  language: Language;
  /**
   * Pronunciation assessment asked for, in a language Sori assesses (English, Korean); false for
   * Japanese and Chinese, which ignore the flag as CLOVA does.
   */
  assessment: boolean;
  /** The text to assess against (checked when `assessment`); absent: what is recognised. */
  utterance: string | undefined;
  graph: boolean;
  /** Boosting keywords that survived the length filter, in order, without duplicates. */
  keywords: string[];
}

// Python's requests sends True/False, curl users type 1/0: all mean the same.
const flag = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0']))
  .transform((v) => v === 'true' || v === '1');

/** The query's keys other than `lang` (which has its own error codes, below); the OpenAPI document is written from it too. */
export const shortOptionsSchema = z.object({
  assessment: flag.optional().meta({ description: 'Pronunciation assessment (Eng, Kor; ignored for Jpn, Chn): `true`/`false` or `1`/`0`.' }),
  graph: flag.optional().meta({ description: 'Adds `usr_graph`, the amplitude envelope (50 values per second); with `assessment`, `ref_graph` too.' }),
  utterance: z.string().optional().meta({ description: 'With `assessment`: the text the speaker was asked to read (at most 500 characters); absent: what was recognised.' }),
  boostings: z.string().max(BOOSTINGS_MAX_CHARS).optional().meta({
    description: `Tab-separated keywords to boost; keywords shorter than ${BOOSTING_MIN_CHARS} characters are dropped.`,
  }),
});

const UTTERANCE_PROBLEMS = {
  empty: 'utterance is empty',
  'too-long': `utterance is longer than ${MAX_TARGET_CHARS} characters`,
  'no-word': 'utterance has no word in the request\'s language',
} as const;

function parseLanguage(raw: unknown): Language {
  if (raw === undefined || raw === '') throw new ClovaShortError('emptyLanguage');
  // Lenient with case (spec: stay lenient with what clients send), strict with everything else.
  const language = typeof raw === 'string' ? LANGUAGE_BY_NAME[raw.trim().toLowerCase()] : undefined;
  if (language === undefined) throw new ClovaShortError('invalidLanguage');
  return language;
}

export function boostingKeywords(boostings: string | undefined): string[] {
  if (boostings === undefined) return [];
  const kept = boostings
    .split('\t')
    .map((k) => k.trim())
    .filter((k) => [...k].length >= BOOSTING_MIN_CHARS);
  return [...new Set(kept)];
}

/** Throws ClovaShortError: emptyLanguage/invalidLanguage for `lang`, badParams for the rest. */
export function parseShortQuery(query: unknown): ShortQuery {
  const q: Record<string, unknown> = typeof query === 'object' && query !== null ? (query as Record<string, unknown>) : {};
  const language = parseLanguage(q.lang);
  const parsed = shortOptionsSchema.safeParse(q);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new ClovaShortError('badParams', `invalid query parameter(s): ${fields}`);
  }
  const assessment = (parsed.data.assessment ?? false) && isAssessedLanguage(language);
  const utterance = parsed.data.utterance;
  if (assessment && utterance !== undefined && isAssessedLanguage(language)) {
    const problem = targetProblem(language, utterance);
    if (problem !== undefined) throw new ClovaShortError('badParams', UTTERANCE_PROBLEMS[problem]);
  }
  return {
    language,
    assessment,
    utterance,
    graph: parsed.data.graph ?? false,
    keywords: boostingKeywords(parsed.data.boostings),
  };
}
