/**
 * When a stream asks the engine for what: a partial result of the open utterance while the
 * speaker talks, paced by the partials' own decode time; a final-quality decode once a pause is
 * under way (the speculation; the session says when), used if the utterance indeed ends in that
 * pause; the final decode itself. A partial runs beside the stream's message chain and is
 * aborted when the final for its utterance starts, so finals never wait behind partials.
 */
import type { KeywordBoost, SpeechEngine, Transcript } from '../speech/engine.js';
import { correctTranscript, type KeywordCorrector } from '../transcript/boosting.js';
import { SAMPLE_RATE } from '../audio.js';
import { VAD_WINDOW } from '../speech/vad/silero.js';
import type { Utterance } from './utterance.js';

/** What the engine is asked for: the stream's language and keywords (a CONFIG may change them). */
export interface DecodeSetup {
  language: string;
  boost: KeywordBoost | undefined;
  /** Near-miss correction of the keywords in the engine's text. */
  corrector: KeywordCorrector | undefined;
}

export interface DecodeSchedulerOptions {
  engine: SpeechEngine;
  /** New audio between two partial results (ms). */
  partialIntervalMs?: number;
  finalBeamSize?: number;
  /** Read at each decode request and result. */
  setup: () => DecodeSetup;
  /** A partial's text from the engine (before keyword correction), as soon as it is there. */
  onPartialText: (utt: Utterance, text: string) => void;
  /** A partial result (keyword-corrected) that was not aborted; `samples`: the audio it covers. */
  onPartial: (utt: Utterance, transcript: Transcript, samples: number) => void;
}

/** A final-quality decode started when a pause began, used if the utterance indeed ends there. */
interface Speculation {
  utt: Utterance;
  upTo: number;
  abort: AbortController;
  result: Promise<Transcript>;
  /** The result, once it is there. */
  settled?: Transcript;
}

export class DecodeScheduler {
  private readonly options: DecodeSchedulerOptions;
  /** The partial decode in flight. */
  private partial: { abort: AbortController; done: Promise<void> } | undefined;
  /** Wall time of the last partial decode. */
  private partialCostMs = 0;
  private speculation: Speculation | undefined;

  constructor(options: DecodeSchedulerOptions) {
    this.options = options;
  }

  /** A speculative final was started for the current pause (and speech has not resumed since). */
  get speculating(): boolean {
    return this.speculation !== undefined;
  }

  /** The speculative final's result, once it is there: the text the current pause follows. */
  get pauseTranscript(): Transcript | undefined {
    return this.speculation?.settled;
  }

  /**
   * The speaker is talking in `utt` (an utterance with speech): a partial decode, unless one is
   * running, a pause's final is, or too little audio came since the last.
   */
  maybePartial(utt: Utterance): void {
    // At most every partialIntervalMs of new audio, and no more often than twice the last
    // partial's decode time: a stream then keeps the engine at most half busy with partials, so a
    // final (which waits for the model run in progress) rarely finds one running, and other
    // streams get their share. Measured: back-to-back partials (~0.5 s each) added a third of a
    // second to finals.
    const interval = (Math.max(this.options.partialIntervalMs ?? 500, 2 * this.partialCostMs) / 1000) * SAMPLE_RATE;
    // During a pause the speculative final is running: a partial would only delay it.
    if (this.partial !== undefined || this.speculation !== undefined || utt.length - utt.decodedTo < interval) return;
    utt.decodedTo = utt.length;
    const abort = new AbortController();
    this.partial = { abort, done: this.decodePartial(utt, abort) };
  }

  /** A greedy decode of `utt` as it stands; its text and result go to the hooks unless aborted. */
  private decodePartial(utt: Utterance, abort: AbortController): Promise<void> {
    const pcm = utt.snapshot();
    const started = performance.now();
    const { language, boost } = this.options.setup();
    return this.options.engine
      .transcribe(pcm, {
        language,
        boost,
        beamSize: 1,
        temperatureFallback: false,
        shortContext: true,
        // The audio only grew since the last partial: the decoder checks that text in one pass
        // and writes only what follows (greedy output is unchanged; see acceptDraft).
        draft: utt.partialText,
        priority: 'partial',
        signal: abort.signal,
      })
      .then((t) => {
        utt.partialText = t.text;
        this.options.onPartialText(utt, t.text);
        return correctTranscript(t, this.options.setup().corrector);
      })
      .then(
        (t) => {
          this.partialCostMs = performance.now() - started;
          // A partial that lost the race with its utterance's final is dropped.
          if (abort.signal.aborted) return;
          this.options.onPartial(utt, t, pcm.length);
        },
        () => undefined,
      )
      .finally(() => {
        if (this.partial?.abort === abort) this.partial = undefined;
      });
  }

  /**
   * A pause is under way in `utt` (an utterance with speech): decode it as it stands, at final
   * quality, right away. If the pause turns out to end the utterance (gap, epFlag), the final is
   * ready or nearly so; if speech resumes, the decode is dropped.
   */
  speculate(utt: Utterance): void {
    this.dropSpeculation();
    this.abortPartial('superseded by a final decode');
    const abort = new AbortController();
    // The audio up to the pause's first silent window, however far into the pause this is.
    // Measured (npm run bench:stream, ko): decoding up to where the speculation starts, 160 ms
    // into the pause, gave a streamed CER of 11.1% against 10.8% this way.
    const upTo = Math.min(utt.length, utt.lastSpeechEnd + VAD_WINDOW);
    const result = this.finalDecode(utt.snapshot(upTo), abort.signal);
    const speculation: Speculation = { utt, upTo, abort, result };
    result.then((t) => {
      speculation.settled = t;
    }, () => undefined);
    this.speculation = speculation;
  }

  /** VAD heard speech again at the end of `utt`: a final decoded at the start of the pause would miss it. */
  speechResumed(utt: Utterance): void {
    if (this.speculation !== undefined && this.speculation.upTo < utt.length) this.dropSpeculation();
  }

  /**
   * `utt` ended: its partial is aborted, and its final transcript is the speculation's if nothing
   * but silence came after the speculation began, else a decode started now from the last
   * partial's text. Undefined (at once) when there is nothing to decode.
   */
  finish(utt: Utterance, hasSpeech: boolean): Promise<Transcript | undefined> | undefined {
    this.abortPartial('superseded by the final result');
    const speculation = this.speculation;
    this.speculation = undefined;
    if (!hasSpeech || utt.length === 0) return undefined;
    return this.finalOf(utt, speculation);
  }

  /** The stream went away: abort whatever runs. */
  close(): void {
    this.partial?.abort.abort(new Error('stream closed'));
    this.speculation?.abort.abort(new Error('stream closed'));
  }

  private async finalOf(utt: Utterance, speculation: Speculation | undefined): Promise<Transcript | undefined> {
    let transcript: Transcript | undefined;
    if (speculation !== undefined && speculation.utt === utt && utt.lastSpeechEnd <= speculation.upTo) {
      transcript = await speculation.result.catch(() => undefined);
    } else {
      speculation?.abort.abort(new Error('superseded'));
    }
    // No decode ready (epFlag or a cut while the speaker talks): the client waits for this one,
    // so it starts from the last partial's text.
    transcript ??= await this.finalDecode(utt.audio(), undefined, utt.partialText);
    return transcript;
  }

  private abortPartial(reason: string): void {
    this.partial?.abort.abort(new Error(reason));
    this.partial = undefined;
  }

  private dropSpeculation(): void {
    this.speculation?.abort.abort(new Error('speech resumed'));
    this.speculation = undefined;
  }

  /** `draft`: see TranscribeOptions.draft; only where latency is worth a little accuracy. */
  private finalDecode(pcm: Float32Array, signal?: AbortSignal, draft?: string): Promise<Transcript> {
    const { language, boost } = this.options.setup();
    return this.options.engine
      .transcribe(pcm, {
        language,
        boost,
        beamSize: this.options.finalBeamSize,
        wordTimestamps: true,
        shortContext: true,
        draft,
        priority: 'stream',
        signal,
      })
      .then((t) => correctTranscript(t, this.options.setup().corrector));
  }
}
