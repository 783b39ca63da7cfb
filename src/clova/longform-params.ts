/**
 * The long-form request parameters (spec section 2 table), validated at the edge. Lenient the
 * way real clients need: null means absent, unknown keys are ignored, booleans may arrive as
 * strings, enum values in any case. What comes out is the fully defaulted set a job runs with.
 */
import { z } from 'zod';
import { MAX_DOMAIN_BOOSTINGS, type Language } from '../config.js';
import { SUBTITLE_FORMATS } from '../transcript/subtitles/index.js';
import { LongformError } from './longform-errors.js';

export const LONGFORM_LANGUAGES = ['ko-KR', 'en-US', 'enko', 'ja', 'zh-cn', 'zh-tw'] as const;
export type LongformLanguage = (typeof LONGFORM_LANGUAGES)[number];

const LANGUAGE_ALIASES: Readonly<Record<string, LongformLanguage>> = {
  'ko-kr': 'ko-KR', ko: 'ko-KR', kor: 'ko-KR',
  'en-us': 'en-US', en: 'en-US', eng: 'en-US',
  enko: 'enko', 'en-ko': 'enko', 'ko-en': 'enko',
  ja: 'ja', 'ja-jp': 'ja', jpn: 'ja',
  'zh-cn': 'zh-cn', zh: 'zh-cn', chn: 'zh-cn', 'zh-hans': 'zh-cn',
  'zh-tw': 'zh-tw', 'zh-hant': 'zh-tw',
};

const DEFAULT_FOR_DOMAIN: Readonly<Record<Language, LongformLanguage>> = { ko: 'ko-KR', en: 'en-US', ja: 'ja', zh: 'zh-cn' };

/** CLOVA's cap on boosting keywords, the same for a request and a registered set. */
export const MAX_BOOSTING_KEYWORDS = MAX_DOMAIN_BOOSTINGS;
export const MAX_SPEAKERS = 30;

/** `format`: the JSON result alone, or one subtitle file with it. */
export const RESULT_FORMATS = ['JSON', ...SUBTITLE_FORMATS] as const;
export type ResultFormat = (typeof RESULT_FORMATS)[number];

export interface LongformParams {
  language: LongformLanguage;
  completion: 'sync' | 'async';
  callback: string | undefined;
  resultToObs: boolean;
  /** Echoed back as given; `{}` when absent. */
  userdata: unknown;
  wordAlignment: boolean;
  fullText: boolean;
  noiseFiltering: boolean;
  boostings: Array<{ words: string }>;
  useDomainBoostings: boolean;
  /** With `useDomainBoostings`: the domain's keywords when the job was accepted (not echoed). */
  domainKeywords?: string[];
  forbiddens: string;
  diarization: { enable: boolean; speakerCountMin: number; speakerCountMax: number };
  sed: { enable: boolean };
  format: ResultFormat;
}

/** Null (and undefined) mean "absent": the official Python sample sends nulls for everything. */
const absent = (v: unknown): unknown => (v === null ? undefined : v);

const bool = z.preprocess((v) => {
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
  }
  return absent(v);
}, z.boolean().optional());

const int = z.preprocess((v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : absent(v)), z.int().optional());

const lowerEnum = <T extends string>(values: readonly T[]) =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return absent(v);
    return values.find((x) => x.toLowerCase() === v.trim().toLowerCase()) ?? v;
  }, z.enum(values as [T, ...T[]]).optional());

/** The params as a client writes them; the OpenAPI document is written from it too (io: 'input'). */
export const longformParamsSchema = z.object({
  language: z.preprocess(absent, z.string().optional()).meta({
    description: `${LONGFORM_LANGUAGES.join(', ')} (any case; also ko, en, ja, zh, ...); absent: the domain's default language.`,
  }),
  completion: lowerEnum(['sync', 'async'] as const).meta({ description: 'sync: the answer is the result; async (default): the answer is a token to poll or a callback.' }),
  // Trimmed: a URL pasted with a space around it is still that URL (and is echoed as such).
  callback: z
    .preprocess((v) => (typeof v === 'string' ? (v.trim() === '' ? undefined : v.trim()) : absent(v)), z.string().optional())
    .meta({ description: 'An http(s) URL the finished result (or the failure) is POSTed to, with retries.' }),
  resultToObs: bool.meta({ description: 'Also write the result to the object storage bucket.' }),
  userdata: z.unknown().optional().meta({ description: 'Any JSON, echoed back in the result.' }),
  wordAlignment: bool.meta({ description: 'Word timings in each segment (default true).' }),
  fullText: bool.meta({ description: 'The whole text in `text` (default true).' }),
  noiseFiltering: bool.meta({ description: 'Accepted and echoed; a no-op by measurement (default true, docs/decisions.md).' }),
  boostings: z
    .preprocess(absent, z.array(z.object({ words: z.preprocess(absent, z.string().optional()) })).optional())
    .meta({ description: `Keywords to boost, comma-separated in \`words\`; at most ${MAX_BOOSTING_KEYWORDS} in all.` }),
  useDomainBoostings: bool.meta({ description: "Boost the domain's registered keywords (not with `boostings`: ERROR_DATA_CONFLICT)." }),
  forbiddens: z.preprocess(absent, z.string().optional()).meta({ description: 'Comma-separated words masked with `*` everywhere in the result.' }),
  diarization: z.preprocess(absent, z.object({ enable: bool, speakerCountMin: int, speakerCountMax: int }).optional()).meta({
    description: `Speakers (enabled by default); counts -1 (automatic) or 1 to ${MAX_SPEAKERS}.`,
  }),
  sed: z.preprocess(absent, z.object({ enable: bool }).optional()).meta({ description: 'Sound events (off by default).' }),
  format: lowerEnum(RESULT_FORMATS).meta({ description: 'JSON (default), or a subtitle file in `subtitle` as well: SRT, SMI, VTT.' }),
});

function describe(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : 'params'}: ${i.message.replace(/^Invalid input: /, '')}`)
    .join('; ');
}

/** `raw` is the parsed JSON body or params part. Throws LongformError with the spec's code. */
/**
 * `params` (or a JSON request body) as text: UTF-8 JSON, a byte-order mark tolerated (Windows
 * tools write one), empty meaning "all defaults". Text that is not JSON is refused, never
 * replaced by defaults: a job run without what the client asked for is worse than an error.
 */
export function paramsFromText(text: string, what = 'the "params" part'): unknown {
  const json = text.replace(/^\uFEFF/, '');
  if (json.trim() === '') return {};
  try {
    return JSON.parse(json) as unknown;
  } catch {
    throw new LongformError('ERROR_PARAMS_FORMAT_INVALID', `${what} is not valid JSON`);
  }
}

export function parseLongformParams(raw: unknown, defaultLanguage: Language): LongformParams {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new LongformError('ERROR_PARAMS_FORMAT_INVALID', 'params must be a JSON object');
  }
  const parsed = longformParamsSchema.safeParse(raw);
  if (!parsed.success) throw new LongformError('ERROR_REQUEST_PARAMETER', describe(parsed.error));
  const p = parsed.data;

  let language = DEFAULT_FOR_DOMAIN[defaultLanguage];
  if (p.language !== undefined) {
    const found = LANGUAGE_ALIASES[p.language.trim().toLowerCase()];
    if (found === undefined) {
      throw new LongformError('ERROR_REQUEST_PARAMETER', `language: expected one of ${LONGFORM_LANGUAGES.join(', ')}, got "${p.language}"`);
    }
    language = found;
  }

  if (p.callback !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(p.callback);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new LongformError('ERROR_REQUEST_PARAMETER', 'callback: expected an http(s) URL');
    }
  }

  const boostings = (p.boostings ?? []).map((b) => ({ words: b.words ?? '' }));
  const keywords = boostings.flatMap((b) => b.words.split(',')).map((w) => w.trim()).filter((w) => w !== '');
  if (keywords.length > MAX_BOOSTING_KEYWORDS) {
    throw new LongformError('ERROR_REQUEST_PARAMETER', `boostings: at most ${MAX_BOOSTING_KEYWORDS} keywords, got ${keywords.length}`);
  }
  const useDomainBoostings = p.useDomainBoostings ?? false;
  if (useDomainBoostings && keywords.length > 0) {
    throw new LongformError('ERROR_DATA_CONFLICT', 'boostings and useDomainBoostings cannot be used together');
  }

  const diarization = {
    enable: p.diarization?.enable ?? true,
    speakerCountMin: p.diarization?.speakerCountMin ?? -1,
    speakerCountMax: p.diarization?.speakerCountMax ?? -1,
  };
  for (const key of ['speakerCountMin', 'speakerCountMax'] as const) {
    const n = diarization[key];
    if (n !== -1 && (n < 1 || n > MAX_SPEAKERS)) {
      throw new LongformError('ERROR_REQUEST_PARAMETER', `diarization.${key}: expected -1 (auto) or 1 to ${MAX_SPEAKERS}, got ${n}`);
    }
  }
  if (diarization.speakerCountMin !== -1 && diarization.speakerCountMax !== -1 && diarization.speakerCountMin > diarization.speakerCountMax) {
    throw new LongformError('ERROR_REQUEST_PARAMETER', 'diarization: speakerCountMin is greater than speakerCountMax');
  }

  return {
    language,
    completion: p.completion ?? 'async',
    callback: p.callback,
    resultToObs: p.resultToObs ?? false,
    userdata: p.userdata === undefined || p.userdata === null ? {} : p.userdata,
    wordAlignment: p.wordAlignment ?? true,
    fullText: p.fullText ?? true,
    noiseFiltering: p.noiseFiltering ?? true,
    boostings,
    useDomainBoostings,
    forbiddens: p.forbiddens ?? '',
    diarization,
    sed: { enable: p.sed?.enable ?? false },
    format: p.format ?? 'JSON',
  };
}

/** The engine's language code and the Chinese script of the answer. */
export function engineLanguage(language: LongformLanguage): { code: string; script?: 'simplified' | 'traditional' } {
  switch (language) {
    case 'ko-KR':
    case 'enko':
      return { code: 'ko' };
    case 'en-US':
      return { code: 'en' };
    case 'ja':
      return { code: 'ja' };
    case 'zh-cn':
      return { code: 'zh', script: 'simplified' };
    case 'zh-tw':
      return { code: 'zh', script: 'traditional' };
  }
}

/** `params.lang` in results: the short code. */
export function shortLang(language: LongformLanguage): string {
  return language === 'ko-KR' ? 'ko' : language === 'en-US' ? 'en' : language;
}

/** The boosting keywords, flattened: the request's own, or the domain's with `useDomainBoostings`. */
export function boostingKeywords(params: LongformParams): string[] {
  if (params.useDomainBoostings) return [...(params.domainKeywords ?? [])];
  return params.boostings.flatMap((b) => b.words.split(',')).map((w) => w.trim()).filter((w) => w !== '');
}
