/**
 * One real-time recognition stream, whatever carries it (gRPC NestService or WebSocket): PCM in,
 * CLOVA's JSON responses out. Silero VAD decides where utterances end (EndPointer); while one is
 * open, it is re-decoded for a partial result at most every 500 ms of new audio; at its end (a
 * pause of `gapThreshold`, `durationThreshold`, the client's `epFlag`, half-close, or 10 s
 * without any request) it is decoded once more, with word timings, as the final result
 * (DecodeScheduler). The responses themselves are built in response.ts.
 *
 * Messages are handled strictly in order on one promise chain; decodes run beside it (see
 * DecodeScheduler).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Language } from '../config.js';
import type { SpeechEngine, Transcript } from '../speech/engine.js';
import type { SileroVad, VadStream } from '../speech/vad/silero.js';
import { keywordCorrector } from '../transcript/boosting.js';
import { forbiddenMatcher } from '../transcript/forbidden.js';
import { DecodeScheduler, type DecodeSetup } from './decode-scheduler.js';
import { EndPointer, type EpdType } from './end-pointing.js';
import { endsSentence } from './epd-text.js';
import { configResponse, recognizeError, responseText, sendsFinal, transcriptionResponse, type Mask } from './response.js';
import { defaultSettings, parseStreamConfig, StreamConfigError, type StreamSettings } from '../clova/stream-config.js';
import { samplesToMs } from '../audio.js';
import { parseExtraContents, PcmInput } from './stream-input.js';
import { Utterance } from './utterance.js';

/**
 * A pause is decoded speculatively (its final, in case it ends the utterance) once it has lasted
 * this long, not from its first silent VAD window: at 16 streams of 100 ms chunks, 49 of 109
 * speculations started at once were dropped when speech resumed, half of them within 128 ms.
 */
export const SPECULATE_AFTER_MS = 160;

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

/** What a CONFIG sets up: the settings, forbidden-word masking, and what the engine is asked for. */
interface StreamSetup {
  settings: StreamSettings;
  mask: Mask | undefined;
  decode: DecodeSetup;
}

export class StreamSession {
  readonly uid = randomUUID();
  private readonly options: SessionOptions;
  private readonly vad: VadStream;
  private readonly input = new PcmInput();
  private readonly endPointer: EndPointer;
  private readonly decodes: DecodeScheduler;
  private setup: StreamSetup;
  private configured = false;
  private chain: Promise<void> = Promise.resolve();
  /** Samples through VAD since the stream began. */
  private received = 0;
  private utt: Utterance;
  private seqId = 0;
  /** Characters of final text sent so far: the next final's `position`. */
  private transcriptLength = 0;
  private unvoiceTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: SessionOptions) {
    this.options = options;
    const settings = defaultSettings(options.domainLanguage);
    this.setup = { settings, mask: undefined, decode: { language: settings.language, boost: undefined, corrector: undefined } };
    this.vad = options.vad.stream();
    this.endPointer = new EndPointer(settings.epd);
    this.decodes = new DecodeScheduler({
      engine: options.engine,
      partialIntervalMs: options.partialIntervalMs,
      finalBeamSize: options.finalBeamSize,
      setup: () => this.setup.decode,
      onPartialText: (utt, text) => this.partialText(utt, text),
      onPartial: (utt, transcript, samples) => this.sendPartial(utt, transcript, samples),
    });
    this.utt = new Utterance(0);
    this.armUnvoice();
  }

  /** CONFIG: acknowledged at once. False if it was malformed (the transport then ends the stream). */
  config(text: string): boolean {
    try {
      const { settings, ack } = parseStreamConfig(text, this.options.domainLanguage);
      // The domain's set as it stands when the stream is configured.
      const keywords = settings.useDomainBoostings ? (this.options.domainBoostings?.() ?? []) : settings.boostings;
      this.setup = {
        settings,
        mask: forbiddenMatcher(settings.forbiddens),
        decode: {
          language: settings.language,
          boost: keywords.length > 0 ? { keywords, weight: settings.boostWeight } : undefined,
          corrector: keywordCorrector(keywords, settings.language),
        },
      };
      this.endPointer.configure(settings.epd);
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
      if (epFlag) await this.endAtLastSample('endPoint');
    });
  }

  /**
   * An end-point from outside the audio (the client's epFlag, unvoice) ends the utterance at the
   * last sample received: the samples short of a whole VAD window (< 32 ms) are let go with it.
   * Left for the half-close, they came back as an utterance of their own, and Whisper heard
   * "Thank you." in jfk's last 24 ms of crowd noise. They are not decoded with the utterance
   * either: a few ms more can round its context up by a second and move its words.
   */
  private async endAtLastSample(epdType: EpdType): Promise<void> {
    for (const win of this.input.windows(true)) this.received += win.length;
    await this.finalize(epdType);
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
    this.decodes.close();
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
        if (epdType !== undefined) await this.endAtLastSample(epdType);
      });
    }, this.options.unvoiceMs ?? 10_000);
    this.unvoiceTimer.unref();
  }

  /**
   * Every VAD window buffered (with `flush`, the rest too) through VAD and end-pointing; then at
   * most one decode for what is open. Decodes start after the whole chunk went through VAD, not
   * window by window: with CLOVA's 1 s chunks, a partial started at the chunk's first speaking
   * window covered none of the second that had arrived, and a speculation started where a pause
   * began was thrown away when speech resumed later in the same chunk; both held the engine a
   * model run that the stream's final then waited for.
   */
  private async runVad(flush: boolean): Promise<void> {
    let spoke = false;
    for (const win of this.input.windows(flush)) {
      const probability = await this.vad.push(win);
      this.utt.append(win, this.endPointer.hasSpeech);
      this.received += win.length;
      const verdict = this.endPointer.window(probability, this.received, win.length, this.utt.length, () => {
        const spoken = this.decodes.pauseTranscript;
        return spoken !== undefined && endsSentence(spoken.text);
      });
      if (verdict.voiced) {
        this.utt.lastSpeechEnd = this.utt.length;
        this.decodes.speechResumed(this.utt);
      }
      if (verdict.endPoint !== undefined) {
        spoke = false;
        await this.finalize(verdict.endPoint);
        continue;
      }
      if (verdict.speaking) spoke = true;
    }
    const pauseMs = this.endPointer.pauseMs;
    // A period end-point needs the pause's text as soon as the pause has begun.
    const speculateAfter = this.setup.settings.epd.usePeriodEpd ? 0 : SPECULATE_AFTER_MS;
    if (pauseMs !== undefined && pauseMs >= speculateAfter) {
      if (!this.decodes.speculating) this.decodes.speculate(this.utt);
    } else if (spoke) {
      // Only while the speaker is talking: in a pause the speculative final runs, and a partial's
      // encoder pass (a third of a second) would hold the engine.
      this.decodes.maybePartial(this.utt);
    }
  }

  /** A partial's text: `syllableThreshold` may end its utterance there. */
  private partialText(utt: Utterance, text: string): void {
    if (this.utt !== utt) return;
    const epdType = this.endPointer.partialText(text);
    if (epdType === undefined) return;
    this.enqueue(async () => {
      if (this.utt === utt) await this.finalize(epdType);
    });
  }

  private sendPartial(utt: Utterance, transcript: Transcript, samples: number): void {
    // A partial that lost the race with its utterance's final is dropped.
    if (this.closed || this.utt !== utt) return;
    const text = responseText(transcript.text, this.setup.settings.language, this.setup.mask);
    if (text === '') return;
    this.options.send(this.transcription(text, utt.start, utt.start + samples, '', transcript));
  }

  private async finalize(epdType: EpdType): Promise<void> {
    // An utterance that ends in a pause is decoded as its speculation would have been (without
    // the partial's text as a draft), whether or not the pause was long enough to start one.
    const hasSpeech = this.endPointer.hasSpeech;
    const inPause = epdType === 'gap' || epdType === 'period' || this.endPointer.pauseMs !== undefined;
    if (inPause && hasSpeech && !this.decodes.speculating) this.decodes.speculate(this.utt);
    const utt = this.utt;
    this.utt = new Utterance(this.received);
    this.endPointer.reset();
    const decoding = this.decodes.finish(utt, hasSpeech);
    const transcript = decoding === undefined ? undefined : await decoding;
    if (this.closed) return;
    const text = transcript === undefined ? '' : responseText(transcript.text, this.setup.settings.language, this.setup.mask);
    if (!sendsFinal(text, epdType, this.setup.settings.epd.skipEmptyText)) return;
    this.options.send(this.transcription(text, utt.start, utt.start + utt.length, epdType, transcript));
    if (text !== '') this.transcriptLength += text.length + 1;
  }

  /** A transcription response for stream samples [startSample, endSample); `epdType` '' is a partial. */
  private transcription(
    text: string, startSample: number, endSample: number, epdType: EpdType | '', transcript: Transcript | undefined,
  ): Record<string, unknown> {
    return transcriptionResponse({
      uid: this.uid, text, startMs: samplesToMs(startSample), endMs: samplesToMs(endSample), final: epdType !== '', epdType,
      transcript, seqId: this.seqId, position: this.transcriptLength, mask: this.setup.mask,
    });
  }
}
