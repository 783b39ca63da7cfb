/**
 * The form fields of POST /v1/audio/transcriptions and /v1/audio/translations, validated: what
 * OpenAI's API takes for Whisper, each wrong value a 400 naming its field. Fields Sori does not
 * use (`include[]`, `chunking_strategy`, ...) are ignored, as OpenAI's whisper-1 ignores most.
 */
import type { Task } from '../../speech/engine.js';
import { isWhisperLanguage } from '../../speech/whisper/languages.js';
import { invalidValue, missingParameter } from './errors.js';

export const RESPONSE_FORMATS = ['json', 'text', 'srt', 'verbose_json', 'vtt'] as const;
export type ResponseFormat = (typeof RESPONSE_FORMATS)[number];

/** OpenAI's name for its Whisper model; here, the server's configured model. */
export const WHISPER_1 = 'whisper-1';

export interface AudioRequest {
  task: Task;
  /** As the client named it (`whisper-1` included). */
  model: string;
  /** Whisper language code of the speech; absent: identified from the audio. */
  language?: string;
  prompt?: string;
  /** 0-1; 0 = beam search with temperature fallback, as OpenAI describes it. */
  temperature: number;
  responseFormat: ResponseFormat;
  /** verbose_json: `words` (timestamp_granularities[] has "word"). */
  words: boolean;
  /** verbose_json: `segments` (no granularities given, or "segment" among them). */
  segments: boolean;
  /** Server-sent events instead of one answer (transcriptions). */
  stream: boolean;
}

/** The form's text fields by name, every value in order of arrival. */
export type FormFields = ReadonlyMap<string, readonly string[]>;

const GRANULARITIES = ['word', 'segment'] as const;

/** The field's one value (trimmed); a field sent twice with different values is refused. */
function single(fields: FormFields, name: string): string | undefined {
  const values = fields.get(name);
  if (values === undefined || values.length === 0) return undefined;
  const distinct = [...new Set(values.map((v) => v.trim()))];
  if (distinct.length > 1) throw invalidValue(name, `${name} was sent ${values.length} times with different values`);
  return distinct[0];
}

function parseTemperature(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 0;
  const value = Number(raw);
  if (!/^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw) || !Number.isFinite(value) || value < 0 || value > 1) {
    throw invalidValue('temperature', `temperature must be a number from 0 to 1, got "${raw}"`);
  }
  return value;
}

function parseBoolean(name: string, raw: string | undefined): boolean {
  if (raw === undefined || raw === '') return false;
  const word = raw.toLowerCase();
  if (word === 'true' || word === '1') return true;
  if (word === 'false' || word === '0') return false;
  throw invalidValue(name, `${name} must be true or false, got "${raw}"`);
}

export function parseAudioRequest(fields: FormFields, task: Task): AudioRequest {
  const model = single(fields, 'model');
  if (model === undefined || model === '') throw missingParameter('model');

  const formatRaw = single(fields, 'response_format');
  const responseFormat = (formatRaw === undefined || formatRaw === '' ? 'json' : formatRaw) as ResponseFormat;
  if (!RESPONSE_FORMATS.includes(responseFormat)) {
    throw invalidValue('response_format', `response_format must be one of ${RESPONSE_FORMATS.join(', ')}, got "${formatRaw}"`);
  }

  // Translations: the speech's language (Sori's addition; OpenAI's always identifies it).
  const languageRaw = single(fields, 'language');
  let language: string | undefined;
  if (languageRaw !== undefined && languageRaw !== '') {
    language = languageRaw.toLowerCase();
    if (!isWhisperLanguage(language)) {
      throw invalidValue('language', `language must be an ISO-639-1 code Whisper knows (e.g. en, ko, ja, zh), got "${languageRaw}"`);
    }
  }

  const prompt = fields.get('prompt')?.at(-1);
  const temperature = parseTemperature(single(fields, 'temperature'));

  // Translations take neither (as OpenAI's): their text is not the speech's, so words cannot be aligned to it.
  let words = false;
  let segments = true;
  let stream = false;
  if (task === 'transcribe') {
    const granularities = [...(fields.get('timestamp_granularities[]') ?? []), ...(fields.get('timestamp_granularities') ?? [])]
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v !== '');
    for (const g of granularities) {
      if (!(GRANULARITIES as readonly string[]).includes(g)) {
        throw invalidValue('timestamp_granularities', `timestamp_granularities[] must be word or segment, got "${g}"`);
      }
    }
    if (granularities.length > 0 && responseFormat !== 'verbose_json') {
      throw invalidValue('timestamp_granularities', 'timestamp_granularities[] needs response_format verbose_json');
    }
    words = granularities.includes('word');
    segments = granularities.length === 0 || granularities.includes('segment');
    stream = parseBoolean('stream', single(fields, 'stream'));
    if (stream && responseFormat !== 'json' && responseFormat !== 'text') {
      throw invalidValue('stream', `stream=true answers with server-sent text events; response_format must be json or text, got "${responseFormat}"`);
    }
  }

  return { task, model, language, prompt: prompt === undefined || prompt.trim() === '' ? undefined : prompt, temperature, responseFormat, words, segments, stream };
}
