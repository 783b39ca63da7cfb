/**
 * Pronunciation assessment inside an inference process (issue 16): the models it needs, loaded on
 * first use (a server nobody asks for assessment never pays their memory), and the standard
 * pronunciation behind `ref_graph`.
 */
import { loadG2p, type G2p, type G2pWord } from '../phonemes/g2p.js';
import { loadPhonemeRecogniser, type PhonemeRecogniser } from '../phonemes/recogniser.js';
import { loadPiperVoice, type PiperVoice } from '../tts/piper.js';
import { espeakSpeak } from '../tts/espeak-voice.js';
import { amplitudeEnvelope } from '../../media/envelope.js';
import { assessEnglish, englishWords, phonemeUnits, type PhonemeUnit } from './english.js';
import { LruCache } from '../lru-cache.js';
import type { Assessment } from './types.js';
import { koreanAssessment, type KoreanTarget, type TokenLogProb } from './korean.js';

/** Languages Sori assesses: English as CLOVA does, Korean beyond it. */
export const ASSESSED_LANGUAGES = ['en', 'ko'] as const;
export type AssessedLanguage = (typeof ASSESSED_LANGUAGES)[number];

export function isAssessedLanguage(language: string): language is AssessedLanguage {
  return (ASSESSED_LANGUAGES as readonly string[]).includes(language);
}

export interface AssessorOptions {
  modelsDir: string;
  threads: number;
  /** Reference envelopes kept by text (default 256): learners practise the same sentences again and again. */
  referenceCacheSize?: number;
}


/** Loads once; a failed load is retried by the next caller rather than cached forever. */
function lazy<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= load().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
}

export class PronunciationAssessor {
  private readonly recogniser: () => Promise<PhonemeRecogniser>;
  private readonly g2p: () => Promise<G2p>;
  private readonly piper: () => Promise<PiperVoice>;
  private readonly englishUnits: () => Promise<(word: string) => Promise<PhonemeUnit[]>>;
  private readonly references: LruCache<string, number[]>;
  /** The G2P of words, both languages: one decoder step per phoneme, and learners repeat sentences. */
  private readonly words = new LruCache<string, G2pWord>(20_000);

  constructor(opts: AssessorOptions) {
    this.recogniser = lazy(() => loadPhonemeRecogniser(opts.modelsDir, { threads: opts.threads }));
    this.g2p = lazy(() => loadG2p(opts.modelsDir, { threads: opts.threads }));
    this.piper = lazy(() => loadPiperVoice(opts.modelsDir, { threads: opts.threads }));
    this.englishUnits = lazy(async () => {
      const { vocab, nonPhonemes } = await this.recogniser();
      const skip = new Set(nonPhonemes);
      return async (word) => phonemeUnits(await this.word(word), vocab, skip);
    });
    this.references = new LruCache(opts.referenceCacheSize ?? 256);
  }

  private async word(word: string): Promise<G2pWord> {
    const g2p = await this.g2p();
    return this.words.getOrMake(word, () => g2p.word(word));
  }

  /** English: `pcm` (16 kHz) read as `text`. */
  async english(pcm: Float32Array, text: string): Promise<Assessment> {
    const units = await this.englishUnits();
    return assessEnglish({ recogniser: await this.recogniser(), units }, pcm, englishWords(text));
  }

  /**
   * Korean: `target` (see koreanTarget) from the forced decoding of its text against the audio's
   * window (`tokens`, speech/whisper/forced-text.ts); the G2P gives each syllable's pronunciation.
   */
  async korean(target: KoreanTarget, tokens: readonly TokenLogProb[]): Promise<Assessment> {
    const pronunciations: G2pWord[] = [];
    for (const { word } of target.words) pronunciations.push(await this.word(word));
    return koreanAssessment(target, tokens, pronunciations);
  }

  /**
   * The standard pronunciation of `text`, 16 kHz: the Piper voice for English (without sampling
   * noise, so one text always draws the same graph), espeak-ng for Korean.
   */
  async reference(language: AssessedLanguage, text: string, signal?: AbortSignal): Promise<Float32Array> {
    if (language === 'en') return (await (await this.piper()).synthesize(text, { signal, deterministic: true })).pcm;
    return espeakSpeak(text, { voice: 'ko', signal });
  }

  /** The amplitude envelope of `reference`, from a cache of recent texts when it is there. */
  async referenceEnvelope(language: AssessedLanguage, text: string, signal?: AbortSignal): Promise<number[]> {
    return this.references.getOrMake(`${language}\u0000${text}`, async () => amplitudeEnvelope(await this.reference(language, text, signal)));
  }
}
