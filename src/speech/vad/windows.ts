/**
 * Cuts a stream of PCM into recognition windows of at most 30 s (Whisper's context), at pauses
 * Silero VAD finds, holding no more than about one window of audio at a time: this is what keeps
 * memory flat on hours-long files.
 *
 * Windows are as long as they can be (Whisper is more accurate with context) and prefer to end
 * at a long pause, so that an utterance is rarely split across two windows. Silence between
 * windows is never sent to the engine.
 */
import { DEFAULT_VAD_OPTIONS, speechSegments, VAD_WINDOW, type SileroVad, type SpeechSegment, type VadStream, type VadOptions } from './silero.js';
import { SAMPLE_RATE } from '../../audio.js';

export interface SpeechWindow {
  /** Absolute sample offsets from the start of the stream. */
  start: number;
  end: number;
  pcm: Float32Array;
  /** The speech inside the window (absolute samples); the pauses between them are real. */
  speech: SpeechSegment[];
}

export interface WindowerOptions {
  maxWindowS: number;
  /** A pause at least this long is where a window prefers to end (and a segment breaks). */
  longPauseS: number;
  /** A window is not ended early at a long pause before it holds this much. */
  minWindowS: number;
  vad: VadOptions;
}

export const DEFAULT_WINDOWER_OPTIONS: WindowerOptions = {
  maxWindowS: 30,
  longPauseS: 0.5,
  minWindowS: 10,
  vad: { ...DEFAULT_VAD_OPTIONS, maxSpeechS: 30 },
};

export class VadWindower {
  private readonly stream: VadStream;
  private readonly options: WindowerOptions;
  /** Absolute sample index of buf[0]; always a multiple of VAD_WINDOW. */
  private regionStart = 0;
  private buf = new Float32Array(SAMPLE_RATE * 40);
  private bufLen = 0;
  private probs: number[] = [];

  constructor(vad: SileroVad, opts: Partial<WindowerOptions> = {}) {
    this.stream = vad.stream();
    this.options = { ...DEFAULT_WINDOWER_OPTIONS, ...opts };
  }

  /** Samples received so far (absolute). */
  get received(): number {
    return this.regionStart + this.bufLen;
  }

  async push(pcm: Float32Array): Promise<SpeechWindow[]> {
    this.append(pcm);
    const out: SpeechWindow[] = [];
    while ((this.probs.length + 1) * VAD_WINDOW <= this.bufLen) {
      const at = this.probs.length * VAD_WINDOW;
      this.probs.push(await this.stream.push(this.buf.subarray(at, at + VAD_WINDOW)));
      // Decided after every VAD frame, not once per chunk: where a window ends must depend on
      // the audio only, not on how ffmpeg's pipe happened to split it (the same file gave other
      // windows, and so other text, from one run to the next).
      out.push(...this.collect(false));
    }
    return out;
  }

  /** End of stream: the rest of the audio, as windows. */
  async finish(): Promise<SpeechWindow[]> {
    const at = this.probs.length * VAD_WINDOW;
    if (at < this.bufLen) this.probs.push(await this.stream.push(this.buf.subarray(at, this.bufLen)));
    return this.collect(true);
  }

  private append(pcm: Float32Array): void {
    const needed = this.bufLen + pcm.length;
    if (needed > this.buf.length) {
      const grown = new Float32Array(Math.max(needed, this.buf.length * 2));
      grown.set(this.buf.subarray(0, this.bufLen));
      this.buf = grown;
    }
    this.buf.set(pcm, this.bufLen);
    this.bufLen = needed;
  }

  private collect(final: boolean): SpeechWindow[] {
    const sr = SAMPLE_RATE;
    const maxWindow = Math.round(this.options.maxWindowS * sr);
    const longPause = Math.round(this.options.longPauseS * sr);
    const minWindow = Math.round(this.options.minWindowS * sr);
    const out: SpeechWindow[] = [];
    for (;;) {
      const analysed = final ? this.bufLen : this.probs.length * VAD_WINDOW;
      if (analysed === 0) return out;
      let segs = speechSegments(Float32Array.from(this.probs), analysed, this.options.vad);
      if (!final && segs.length > 0) {
        // Speech still running at the edge (or too close to it to know it ended) is not settled.
        const unsettled = analysed - Math.round(((this.options.vad.minSilenceMs + this.options.vad.speechPadMs) / 1000) * sr) - VAD_WINDOW;
        if (segs[segs.length - 1].end > unsettled) segs = segs.slice(0, -1);
      }
      if (segs.length === 0) {
        // Only silence so far: keep a little for context so memory stays bounded.
        if (final) this.dropBefore(this.bufLen);
        else if (analysed > maxWindow + sr) this.dropBefore(analysed - sr);
        return out;
      }
      const windowStart = segs[0].start;
      let fit = 0;
      while (fit < segs.length && segs[fit].end - windowStart <= maxWindow) fit++;
      // speechSegments splits speech longer than maxSpeechS, so the first one always fits.
      fit = Math.max(fit, 1);
      const full = fit < segs.length;
      if (!full && !final && analysed - windowStart <= maxWindow + sr / 2) return out; // more may still fit
      let last = fit - 1;
      if (full) {
        for (let i = fit - 2; i >= 0; i--) {
          if (segs[i + 1].start - segs[i].end >= longPause && segs[i].end - windowStart >= minWindow) {
            last = i;
            break;
          }
        }
      }
      const end = segs[last].end;
      out.push({
        start: this.regionStart + windowStart,
        end: this.regionStart + end,
        pcm: this.buf.slice(windowStart, end),
        speech: segs.slice(0, last + 1).map((s) => ({ start: this.regionStart + s.start, end: this.regionStart + s.end })),
      });
      this.dropBefore(end);
      if (final && this.bufLen === 0) return out;
    }
  }

  /** Forgets audio before region offset `at` (rounded down to a VAD window). */
  private dropBefore(at: number): void {
    const dropSamples = at >= this.bufLen ? this.bufLen : Math.floor(at / VAD_WINDOW) * VAD_WINDOW;
    if (dropSamples === 0) return;
    this.buf.copyWithin(0, dropSamples, this.bufLen);
    this.bufLen -= dropSamples;
    this.regionStart += dropSamples;
    this.probs = this.probs.slice(Math.ceil(dropSamples / VAD_WINDOW));
  }
}
