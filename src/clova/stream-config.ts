/**
 * The streaming CONFIG message (spec section 3): a JSON string with `transcription`,
 * `keywordBoosting`, `forbidden` and `semanticEpd` sections. Each section is acknowledged with
 * its own status; an invalid one falls back to defaults and says so in the ack.
 */
import type { Language } from '../config.js';
import { MAX_BOOSTING_KEYWORDS } from './longform-params.js';
import { parseForbiddens } from '../transcript/forbidden.js';

export interface EpdSettings {
  skipEmptyText: boolean;
  /** Silence that ends an utterance (ms). */
  gapThresholdMs: number;
  /** Longest utterance before it is cut (ms). */
  durationThresholdMs: number;
  /** Cut after this many syllables (characters); 0 = off. */
  syllableThreshold: number;
  usePeriodEpd: boolean;
}

export interface StreamSettings {
  language: string;
  boostings: string[];
  /** `boostingIDs` given: the domain's registered keywords instead of `boostings`. */
  useDomainBoostings: boolean;
  /** Largest `weight` of the sets given (1 when none says): scales the decoding bias. */
  boostWeight: number;
  forbiddens: string[];
  epd: EpdSettings;
}

export type SectionStatus = 'Success' | string;

export interface ConfigAck {
  status: SectionStatus;
  contextCode: { status: SectionStatus };
  transcription: { status: SectionStatus };
  keywordBoosting: { status: SectionStatus };
  forbidden: { status: SectionStatus };
  semanticEpd: { status: SectionStatus };
}

export const DEFAULT_EPD: EpdSettings = {
  skipEmptyText: false,
  gapThresholdMs: 500,
  durationThresholdMs: 20_000,
  syllableThreshold: 0,
  usePeriodEpd: false,
};

const LANGS: Readonly<Record<string, string>> = {
  ko: 'ko', 'ko-kr': 'ko', kor: 'ko', en: 'en', 'en-us': 'en', eng: 'en', ja: 'ja', 'ja-jp': 'ja', jpn: 'ja',
  zh: 'zh', 'zh-cn': 'zh', chn: 'zh',
};

export function defaultSettings(domainLanguage: Language): StreamSettings {
  return { language: domainLanguage, boostings: [], useDomainBoostings: false, boostWeight: 1, forbiddens: [], epd: { ...DEFAULT_EPD } };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Thrown for a config that is not a JSON object at all: the stream answers with an error. */
export class StreamConfigError extends Error {}

/**
 * The largest CONFIG text (UTF-8 bytes). 1,000 keywords of 80 Hangul syllables each fit; past
 * it, parsing and setting up a config held the event loop for seconds (16 MiB over gRPC).
 */
export const MAX_STREAM_CONFIG_BYTES = 256 * 1024;

export function parseStreamConfig(text: string, domainLanguage: Language): { settings: StreamSettings; ack: ConfigAck } {
  if (Buffer.byteLength(text, 'utf8') > MAX_STREAM_CONFIG_BYTES) throw new StreamConfigError(`config over ${MAX_STREAM_CONFIG_BYTES / 1024} KiB`);
  let raw: unknown;
  try {
    raw = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new StreamConfigError('config is not valid JSON');
  }
  if (!isRecord(raw)) throw new StreamConfigError('config must be a JSON object');
  const settings = defaultSettings(domainLanguage);
  const ack: ConfigAck = {
    status: 'Success',
    contextCode: { status: 'Success' },
    transcription: { status: 'Success' },
    keywordBoosting: { status: 'Success' },
    forbidden: { status: 'Success' },
    semanticEpd: { status: 'Success' },
  };

  const t = raw.transcription;
  if (isRecord(t) && t.language !== undefined && t.language !== null) {
    const lang = typeof t.language === 'string' ? LANGS[t.language.trim().toLowerCase()] : undefined;
    if (lang === undefined) ack.transcription.status = 'Invalid language';
    else settings.language = lang;
  } else if (t !== undefined && t !== null && !isRecord(t)) {
    ack.transcription.status = 'Invalid format';
  }

  const kb = raw.keywordBoosting;
  const weights: number[] = [];
  if (isRecord(kb)) {
    const list = kb.boostings;
    if (list !== undefined && list !== null && !Array.isArray(list)) ack.keywordBoosting.status = 'Invalid format';
    else {
      for (const b of (list ?? []) as unknown[]) {
        if (!isRecord(b) || typeof b.words !== 'string') {
          ack.keywordBoosting.status = 'Invalid format';
          continue;
        }
        const weight = b.weight === undefined || b.weight === null ? 1 : Number(b.weight);
        if (!Number.isFinite(weight) || weight < 0 || weight > 5) {
          ack.keywordBoosting.status = 'Invalid weight';
          continue;
        }
        if (weight === 0) continue; // weight 0 disables the set
        const words = b.words.split(',').map((w) => w.trim()).filter((w) => w !== '');
        if (words.length === 0) continue;
        weights.push(weight);
        // One by one: spreading hundreds of thousands of words as arguments overflows the stack.
        for (const w of words) settings.boostings.push(w);
      }
    }
    if (settings.boostings.length > MAX_BOOSTING_KEYWORDS) {
      // The same cap as long-form requests and registered sets; the section falls back to none.
      ack.keywordBoosting.status = `Too many keywords (max ${MAX_BOOSTING_KEYWORDS})`;
      settings.boostings = [];
      weights.length = 0;
    }
    if (weights.length > 0) settings.boostWeight = weights.reduce((a, b) => Math.max(a, b));
    // boostingIDs name the domain's registered sets; this server has one set per domain.
    const ids = kb.boostingIDs;
    const hasIds = (typeof ids === 'string' && ids.trim() !== '') || (Array.isArray(ids) && ids.length > 0);
    if (hasIds && settings.boostings.length > 0) ack.keywordBoosting.status = 'Data conflict';
    else if (hasIds) settings.useDomainBoostings = true;
  } else if (kb !== undefined && kb !== null) ack.keywordBoosting.status = 'Invalid format';

  const fb = raw.forbidden;
  if (isRecord(fb)) {
    const f = fb.forbiddens;
    if (typeof f === 'string' || (Array.isArray(f) && f.every((x) => typeof x === 'string'))) settings.forbiddens = parseForbiddens(f);
    else if (f !== undefined && f !== null) ack.forbidden.status = 'Invalid format';
  } else if (fb !== undefined && fb !== null) ack.forbidden.status = 'Invalid format';

  const se = raw.semanticEpd;
  if (isRecord(se)) {
    const num = (key: string, min: number, max: number): number | undefined => {
      const v = se[key];
      if (v === undefined || v === null) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n < min || n > max) {
        ack.semanticEpd.status = `Invalid ${key}`;
        return undefined;
      }
      return n;
    };
    const gap = num('gapThreshold', 0, 60_000);
    const duration = num('durationThreshold', 0, 600_000);
    const syllables = num('syllableThreshold', 0, 100_000);
    // 0 means "not used" for these thresholds.
    if (gap !== undefined && gap > 0) settings.epd.gapThresholdMs = gap;
    if (duration !== undefined && duration > 0) settings.epd.durationThresholdMs = duration;
    if (syllables !== undefined) settings.epd.syllableThreshold = syllables;
    if (typeof se.skipEmptyText === 'boolean') settings.epd.skipEmptyText = se.skipEmptyText;
    if (typeof se.usePeriodEpd === 'boolean') settings.epd.usePeriodEpd = se.usePeriodEpd;
  } else if (se !== undefined && se !== null) ack.semanticEpd.status = 'Invalid format';

  const sections = [ack.transcription, ack.keywordBoosting, ack.forbidden, ack.semanticEpd];
  if (sections.some((s) => s.status !== 'Success')) ack.status = 'Partial Success';
  return { settings, ack };
}
