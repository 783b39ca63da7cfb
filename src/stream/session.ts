/**
 * One real-time recognition stream, whatever carries it (gRPC NestService or WebSocket): PCM in,
 * CLOVA's JSON responses out (built in response.ts). Silero VAD decides where utterances end (EndPointer); while one is open, it is
 * re-decoded for a partial result at most every 500 ms of new audio; at its end (a pause of
 * `gapThreshold`, `durationThreshold`, the client's `epFlag`, half-close, or 10 s without any
 * request) it is decoded once more, with word timings, as the final result.
 *
 * Messages are handled strictly in order on one promise chain; a partial decode runs beside it
 * and is aborted when the final for its utterance starts, so finals never wait behind partials.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Language } from '../config.js';
import type { KeywordBoost, SpeechEngine, Transcript } from '../speech/engine.js';
import type { SileroVad, VadStream } from '../speech/vad/silero.js';
import { correctTranscript, keywordCorrector, type KeywordCorrector } from '../transcript/boosting.js';
import { forbiddenMatcher } from '../transcript/forbidden.js';
import { defaultSettings, parseStreamConfig, StreamConfigError, type StreamSettings } from './stream-config.js';
import { EndPointer, type EpdType } from './end-pointing.js';
import { endsSentence } from './epd-text.js';
import { configResponse, recognizeError, responseText, sendsFinal, transcriptionResponse, type Mask } from './response.js';
import { parseExtraContents, PcmInput, SAMPLE_RATE } from './stream-input.js';

const SR = SAMPLE_RATE;
/** Audio kept before the first speech window so the utterance's first syllable is not clipped. */
const PREROLL_SAMPLES = Math.round(0.3 * SR);

export type { EpdType } from './end-pointing.js';
export { skipWavHeader } from './stream-input.js';

export interface SessionOptions {
  engine: SpeechEngine;
  vad: SileroVad;
  domainLanguage: Language;
  /** Receives each response object; the transport serialises it into `contents`. */
  send: (contents: Record<string, unknown>) => void;
  logger: Logger;
  /** New audio between two partial results (ms). */
  partialIntervalMs?: number;
  /** Flush after this long without any request (ms). */
  unvoiceMs?: number;
  finalBeamSize?: number;
  /** The domain's registered boosting keywords (a config's `boostingIDs` asks for them). */
  domainBoostings?: () => string[];
}

interface Utterance {
  /** Stream sample offset of pcm[0]. */
  start: number;
  pcm: Float32Array;
  length: number;
  /** Samples the last partial decode covered. */
  decodedTo: number;
  /** End (in pcm samples) of the last window VAD did not call silence. */
  lastSpeechEnd: number;
  /** The engine's text of the last partial (before keyword correction): the next partial's draft. */
  partialText?: string;
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

export class StreamSession {
  readonly uid = randomUUID();
  private settings: StreamSettings;
  private configured = false;
  private chain: Promise<void> = Promise.resolve();
  private readonly vad: VadStream;
  private readonly input = new PcmInput();
  private readonly endPointer: EndPointer;
  /** Samples through VAD since the stream began. */
  private received = 0;
  private utt: Utterance;
  private seqId = 0;
  private transcriptLength = 0;
  private partial: { abort: AbortController; done: Promise<void> } | undefined;
  /** Wall time of the last partial decode. */
  private partialCostMs = 0;
  private speculation: Speculation | undefined;
  private unvoiceTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private mask: Mask | undefined;
  /** Keyword boosting: decoder levers and the near-miss correction of their output. */
  private boost: KeywordBoost | undefined;
  private corrector: KeywordCorrector | undefined;

  private readonly options: SessionOptions;

  constructor(options: SessionOptions) {
    this.options = options;
    this.settings = defaultSettings(options.domainLanguage);
    this.vad = options.vad.stream();
    this.endPointer = new EndPointer(this.settings.epd);
    this.utt = this.newUtterance(0);
    this.armUnvoice();
  }

  /** CONFIG: acknowledged at once. False if it was malformed (the transport then ends the stream). */
  config(text: string): boolean {
    try {
      const { settings, ack } = parseStreamConfig(text, this.options.domainLanguage);
      this.settings = settings;
      this.endPointer.configure(settings.epd);
      this.mask = forbiddenMatcher(settings.forbiddens);
      // The domain's set as it stands when the stream is configured.
      const keywords = settings.useDomainBoostings ? (this.options.domainBoostings?.() ?? []) : settings.boostings;
      this.boost = keywords.length > 0 ? { keywords, weight: settings.boostWeight } : undefined;
      this.corrector = keywordCorrector(keywords, settings.language);
      this.configured = true;
      this.options.send(configResponse(this.uid, ack));
      return true;
    } catch (err) {
      if (!(err instanceof StreamConfigError)) throw err;
      this.options.send(recognizeError(this.uid, 'Invalid format', err.message));
      return false;
    }
  }

  get hasConfig(): boolean {
    return this.configured;
  }

  /** DATA: any chunk size; `extra` is the `extra_contents` JSON (may be empty or missing). */
  data(chunk: Uint8Array, extra: string | undefined): void {
    this.armUnvoice();
    const { seqId, epFlag } = parseExtraContents(extra);
    this.enqueue(async () => {
      if (seqId !== undefined) this.seqId = seqId;
      this.input.push(chunk);
      await this.runVad(false);
      if (epFlag) await this.finalize('endPoint');
    });
  }

  /** The client half-closed: flush what is open; resolves once every response was sent. */
  async end(): Promise<void> {
    this.enqueue(async () => {
      if (this.input.buffered > 0) await this.runVad(true);
      const epdType = this.endPointer.streamEnd();
      if (epdType !== undefined) await this.finalize(epdType);
    });
    await this.chain;
    this.close();
  }

  /** The client went away: stop everything, send nothing more. */
  close(): void {
    this.closed = true;
    clearTimeout(this.unvoiceTimer);
    this.partial?.abort.abort(new Error('stream closed'));
    this.speculation?.abort.abort(new Error('stream closed'));
  }

  private enqueue(task: () => Promise<void>): void {
    this.chain = this.chain.then(task).catch((err: unknown) => {
      if (this.closed) return;
      this.options.logger.error({ err, uid: this.uid }, 'stream processing failed');
      this.options.send(recognizeError(this.uid, 'Internal error'));
    });
  }

  private armUnvoice(): void {
    clearTimeout(this.unvoiceTimer);
    if (this.closed) return;
    this.unvoiceTimer = setTimeout(() => {
      this.enqueue(async () => {
        const epdType = this.endPointer.unvoice();
        if (epdType !== undefined) await this.finalize(epdType);
      });
    }, this.options.unvoiceMs ?? 10_000);
    this.unvoiceTimer.unref();
  }

  private newUtterance(start: number): Utterance {
    return { start, pcm: new Float32Array(SR * 4), length: 0, decodedTo: 0, lastSpeechEnd: 0 };
  }

  /** Every VAD window buffered (with `flush`, the rest too) through VAD, end-pointing and decoding. */
  private async runVad(flush: boolean): Promise<void> {
    for (const win of this.input.windows(flush)) {
      const probability = await this.vad.push(win);
      this.append(win);
      const verdict = this.endPointer.window(probability, this.received, win.length, this.utt.length, () =>
        this.speculation?.settled !== undefined && endsSentence(this.speculation.settled.text));
      if (verdict.voiced) {
        this.utt.lastSpeechEnd = this.utt.length;
        // Speech again: a final decoded at the start of the pause would miss it.
        if (this.speculation !== undefined && this.speculation.upTo < this.utt.length) this.dropSpeculation();
      }
      if (verdict.pauseStarted) this.speculate();
      if (verdict.endPoint !== undefined) {
        await this.finalize(verdict.endPoint);
        continue;
      }
      // Only while the speaker is talking: on a fading window the speculative final is about to
      // start, and a partial's encoder pass (a third of a second) would hold the engine.
      if (verdict.speaking) this.maybePartial();
    }
  }

  private append(win: Float32Array): void {
    const u = this.utt;
    if (!this.endPointer.hasSpeech && u.length + win.length > PREROLL_SAMPLES * 2) {
      // No speech yet: keep only the pre-roll.
      const keep = Math.max(0, PREROLL_SAMPLES - win.length);
      u.pcm.copyWithin(0, u.length - keep, u.length);
      u.start += u.length - keep;
      u.length = keep;
    }
    if (u.length + win.length > u.pcm.length) {
      const grown = new Float32Array(Math.max(u.pcm.length * 2, u.length + win.length));
      grown.set(u.pcm.subarray(0, u.length));
      u.pcm = grown;
    }
    u.pcm.set(win, u.length);
    u.length += win.length;
    this.received += win.length;
  }

  private maybePartial(): void {
    const u = this.utt;
    // At most every partialIntervalMs of new audio, and no more often than twice the last
    // partial's decode time: a stream then keeps the engine at most half busy with partials, so a
    // final (which waits for the model run in progress) rarely finds one running, and other
    // streams get their share. Measured: back-to-back partials (~0.5 s each) added a third of a
    // second to finals.
    const interval = (Math.max(this.options.partialIntervalMs ?? 500, 2 * this.partialCostMs) / 1000) * SR;
    // During a pause the speculative final is running: a partial would only delay it.
    if (!this.endPointer.hasSpeech || this.partial !== undefined || this.speculation !== undefined || u.length - u.decodedTo < interval) return;
    u.decodedTo = u.length;
    const abort = new AbortController();
    const pcm = u.pcm.slice(0, u.length);
    const utt = u;
    const started = performance.now();
    const done = this.options.engine
      .transcribe(pcm, {
        language: this.settings.language,
        boost: this.boost,
        beamSize: 1,
        temperatureFallback: false,
        shortContext: true,
        // The audio only grew since the last partial: the decoder checks that text in one pass
        // and writes only what follows (greedy output is unchanged; see acceptDraft).
        draft: u.partialText,
        priority: 'partial',
        signal: abort.signal,
      })
      .then((t) => {
        utt.partialText = t.text;
        this.maybeCutAtSyllables(utt, t.text);
        return correctTranscript(t, this.corrector);
      })
      .then(
        (t) => {
          this.partialCostMs = performance.now() - started;
          // A partial that lost the race with its utterance's final is dropped.
          if (this.closed || this.utt !== utt || abort.signal.aborted) return;
          const text = this.responseText(t.text);
          if (text === '') return;
          this.options.send(this.transcription(text, utt.start, utt.start + pcm.length, '', t));
        },
        () => undefined,
      )
      .finally(() => {
        if (this.partial?.abort === abort) this.partial = undefined;
      });
    this.partial = { abort, done };
  }

  /** A partial's text: `syllableThreshold` may end its utterance there. */
  private maybeCutAtSyllables(utt: Utterance, text: string): void {
    if (this.utt !== utt) return;
    const epdType = this.endPointer.partialText(text);
    if (epdType === undefined) return;
    this.enqueue(async () => {
      if (this.utt === utt) await this.finalize(epdType);
    });
  }

  /**
   * A pause began: decode the utterance as it stands, at final quality, right away. If the pause
   * turns out to end the utterance (gap, epFlag), the final is ready or nearly so; if speech
   * resumes, the decode is dropped.
   */
  private speculate(): void {
    const u = this.utt;
    if (!this.endPointer.hasSpeech) return;
    this.dropSpeculation();
    this.partial?.abort.abort(new Error('superseded by a final decode'));
    this.partial = undefined;
    const abort = new AbortController();
    const result = this.finalDecode(u.pcm.slice(0, u.length), abort.signal);
    const spec: Speculation = { utt: u, upTo: u.length, abort, result };
    result.then((t) => {
      spec.settled = t;
    }, () => undefined);
    this.speculation = spec;
  }

  private dropSpeculation(): void {
    this.speculation?.abort.abort(new Error('speech resumed'));
    this.speculation = undefined;
  }

  /** `draft`: see TranscribeOptions.draft; only where latency is worth a little accuracy. */
  private finalDecode(pcm: Float32Array, signal?: AbortSignal, draft?: string): Promise<Transcript> {
    return this.options.engine
      .transcribe(pcm, {
        language: this.settings.language,
        boost: this.boost,
        beamSize: this.options.finalBeamSize,
        wordTimestamps: true,
        shortContext: true,
        draft,
        priority: 'stream',
        signal,
      })
      .then((t) => correctTranscript(t, this.corrector));
  }

  private async finalize(epdType: EpdType): Promise<void> {
    const u = this.utt;
    const hasSpeech = this.endPointer.hasSpeech;
    this.utt = this.newUtterance(this.received);
    this.endPointer.reset();
    this.partial?.abort.abort(new Error('superseded by the final result'));
    this.partial = undefined;
    const spec = this.speculation;
    this.speculation = undefined;
    let transcript: Transcript | undefined;
    if (hasSpeech && u.length > 0) {
      // Nothing but silence since the speculative decode began: its result is the final.
      if (spec !== undefined && spec.utt === u && u.lastSpeechEnd <= spec.upTo) {
        transcript = await spec.result.catch(() => undefined);
      } else {
        spec?.abort.abort(new Error('superseded'));
      }
      // No decode ready (epFlag or a cut while the speaker talks): the client waits for this one,
      // so it starts from the last partial's text.
      transcript ??= await this.finalDecode(u.pcm.subarray(0, u.length), undefined, u.partialText);
    }
    if (this.closed) return;
    const text = transcript === undefined ? '' : this.responseText(transcript.text);
    if (!sendsFinal(text, epdType, this.settings.epd.skipEmptyText)) return;
    this.options.send(this.transcription(text, u.start, u.start + u.length, epdType, transcript));
    if (text !== '') this.transcriptLength += text.length + 1;
  }

  private responseText(text: string): string {
    return responseText(text, this.settings.language, this.mask);
  }

  /** A transcription response for stream samples [startSample, endSample); `epdType` '' is a partial. */
  private transcription(
    text: string, startSample: number, endSample: number, epdType: EpdType | '', transcript: Transcript | undefined,
  ): Record<string, unknown> {
    return transcriptionResponse({
      uid: this.uid, text, startMs: samplesToMs(startSample), endMs: samplesToMs(endSample), final: epdType !== '', epdType,
      transcript, seqId: this.seqId, position: this.transcriptLength, mask: this.mask,
    });
  }
}

function samplesToMs(samples: number): number {
  return Math.round((samples / SR) * 1000);
}
