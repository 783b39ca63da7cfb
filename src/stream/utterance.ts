/**
 * The audio of the open utterance, as it grows window by window, and what the decodes of it
 * have left behind (how far the last partial reached, its text).
 */
import { SAMPLE_RATE } from '../audio.js';

/** Audio kept before the first speech window so the utterance's first syllable is not clipped. */
export const PREROLL_SAMPLES = Math.round(0.3 * SAMPLE_RATE);

export class Utterance {
  /** Stream sample offset of the first sample kept. */
  start: number;
  private pcm = new Float32Array(SAMPLE_RATE * 4);
  /** Samples kept. */
  length = 0;
  /** Samples the last partial decode covered. */
  decodedTo = 0;
  /** End (in samples of this utterance) of the last window VAD did not call silence. */
  lastSpeechEnd = 0;
  /** The engine's text of the last partial (before keyword correction): the next decode's draft. */
  partialText?: string;

  constructor(start: number) {
    this.start = start;
  }

  /** One VAD window more. Until the utterance `hasSpeech`, only the pre-roll is kept. */
  append(win: Float32Array, hasSpeech: boolean): void {
    if (!hasSpeech && this.length + win.length > PREROLL_SAMPLES * 2) {
      const keep = Math.max(0, PREROLL_SAMPLES - win.length);
      this.pcm.copyWithin(0, this.length - keep, this.length);
      this.start += this.length - keep;
      this.length = keep;
    }
    if (this.length + win.length > this.pcm.length) {
      const grown = new Float32Array(Math.max(this.pcm.length * 2, this.length + win.length));
      grown.set(this.pcm.subarray(0, this.length));
      this.pcm = grown;
    }
    this.pcm.set(win, this.length);
    this.length += win.length;
  }

  /**
   * A copy of the audio so far (its first `upTo` samples): for a decode that runs while the
   * utterance goes on.
   */
  snapshot(upTo = this.length): Float32Array {
    return this.pcm.slice(0, Math.min(upTo, this.length));
  }

  /** The audio itself, not copied: for an utterance that has ended. */
  audio(): Float32Array {
    return this.pcm.subarray(0, this.length);
  }
}
