/**
 * Where the open utterance ends (CLOVA's `epdType`), from the VAD's verdict on each window, the
 * stream's `semanticEpd` settings and the text decoded so far. No I/O: fed probabilities, sample
 * positions and texts, it says what happened and whether the utterance ends.
 *
 * - gap: a pause of `gapThreshold`;
 * - period: with `usePeriodEpd`, a shorter pause (PERIOD_MIN_PAUSE_MS) after text that ends a sentence;
 * - durationThreshold: the utterance (with speech in it) is that long;
 * - syllableThreshold: the partial text has said that many syllables;
 * - unvoice: no request for a while, with speech in the utterance;
 * - endPoint: the client's `epFlag`, or the stream's end with speech in the utterance.
 */
import { countSyllables } from './epd-text.js';
import { SAMPLE_RATE } from '../audio.js';
import type { EpdSettings } from '../clova/stream-config.js';

export type EpdType = 'gap' | 'endPoint' | 'durationThreshold' | 'period' | 'syllableThreshold' | 'unvoice';

/** VAD probability from which a window is speech. */
export const SPEECH_ON = 0.5;
/** VAD probability below which a window is silence; in between, the state stays as it is. */
export const SPEECH_OFF = 0.35;
/**
 * `usePeriodEpd`: a pause this long (or gapThreshold, if shorter) ends the utterance when its
 * text so far ends a sentence. Shorter than a breath between clauses is not a sentence end even
 * when Whisper closes the text with a period (it does so at the end of any audio it is given).
 */
export const PERIOD_MIN_PAUSE_MS = 200;

/** What one VAD window means for the open utterance. */
export interface WindowVerdict {
  /** VAD did not call the window silence (it may be the tail of speech). */
  voiced: boolean;
  /** The window is speech: the speaker is talking. */
  speaking: boolean;
  /** The utterance ends with this window. */
  endPoint?: 'gap' | 'period' | 'durationThreshold';
}

export class EndPointer {
  private epd: EpdSettings;
  /** Speech began and no pause of gapThreshold (or end-point) has followed. */
  private inSpeech = false;
  /** Stream sample where the current pause began; undefined while not in a pause. */
  private silenceSince: number | undefined;
  /** The utterance has had a speech window. */
  private speech = false;
  /** A syllableThreshold end was reported for this utterance. */
  private syllablesReached = false;
  /** Stream sample at the end of the last window. */
  private lastEnd = 0;

  constructor(epd: EpdSettings) {
    this.epd = epd;
  }

  /** The stream's settings changed (a new CONFIG); the utterance's state stays. */
  configure(epd: EpdSettings): void {
    this.epd = epd;
  }

  /** The open utterance has had speech: only then is there anything to decode. */
  get hasSpeech(): boolean {
    return this.speech;
  }

  /**
   * One VAD window: its speech `probability`, its `end` and `length` in stream samples, the open
   * utterance's samples with it; `pauseEndsSentence`: whether the text decoded for the current
   * pause ends a sentence (asked only when a period end-point is possible).
   */
  window(probability: number, end: number, length: number, utteranceSamples: number, pauseEndsSentence: () => boolean): WindowVerdict {
    const voiced = probability >= SPEECH_OFF;
    const speaking = probability >= SPEECH_ON;
    this.lastEnd = end;
    if (speaking) {
      this.inSpeech = true;
      this.speech = true;
      this.silenceSince = undefined;
    } else if (this.inSpeech && !voiced) {
      this.silenceSince ??= end - length;
      const pauseMs = ((end - this.silenceSince) / SAMPLE_RATE) * 1000;
      if (pauseMs >= this.epd.gapThresholdMs) {
        this.inSpeech = false;
        return { voiced, speaking, endPoint: 'gap' };
      }
      if (this.epd.usePeriodEpd && pauseMs >= Math.min(PERIOD_MIN_PAUSE_MS, this.epd.gapThresholdMs) && pauseEndsSentence()) {
        this.inSpeech = false;
        return { voiced, speaking, endPoint: 'period' };
      }
    } else if (voiced) {
      this.silenceSince = undefined;
    }
    if (this.speech && (utteranceSamples / SAMPLE_RATE) * 1000 >= this.epd.durationThresholdMs) {
      return { voiced, speaking, endPoint: 'durationThreshold' };
    }
    return { voiced, speaking };
  }

  /** How long the current pause after speech has lasted (ms); undefined while not in one. */
  get pauseMs(): number | undefined {
    if (!this.inSpeech || this.silenceSince === undefined) return undefined;
    return ((this.lastEnd - this.silenceSince) / SAMPLE_RATE) * 1000;
  }

  /** The open utterance's partial text: 'syllableThreshold' the first time it says enough. */
  partialText(text: string): 'syllableThreshold' | undefined {
    const limit = this.epd.syllableThreshold;
    if (limit <= 0 || this.syllablesReached || countSyllables(text) < limit) return undefined;
    this.syllablesReached = true;
    return 'syllableThreshold';
  }

  /** No request for a while: the utterance ends if it has speech. */
  unvoice(): 'unvoice' | undefined {
    return this.speech ? 'unvoice' : undefined;
  }

  /** The client half-closed the stream: the utterance ends if it has speech. */
  streamEnd(): 'endPoint' | undefined {
    return this.speech ? 'endPoint' : undefined;
  }

  /** The utterance ended, whatever ended it: the next one starts with no speech and no pause. */
  reset(): void {
    this.inSpeech = false;
    this.silenceSince = undefined;
    this.speech = false;
    this.syllablesReached = false;
  }
}
