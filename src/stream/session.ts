/**
 * One real-time recognition stream, whatever carries it (gRPC NestService or WebSocket): PCM in,
 * CLOVA's JSON responses out. Silero VAD decides where utterances end; while one is open, it is
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
import { toSimplified } from '../transcript/chinese.js';
import { forbiddenMatcher } from '../transcript/forbidden.js';
import { defaultSettings, parseStreamConfig, StreamConfigError, type StreamSettings } from './stream-config.js';
import { countSyllables, endsSentence, periodAlignIndices, periodPositions } from './epd-text.js';

import { SAMPLE_RATE as SR } from '../audio.js';
const WINDOW = 512;
const SPEECH_ON = 0.5;
const SPEECH_OFF = 0.35;
/** Audio kept before the first speech window so the utterance's first syllable is not clipped. */
const PREROLL_SAMPLES = Math.round(0.3 * SR);
/**
 * `usePeriodEpd`: a pause this long (or gapThreshold, if shorter) ends the utterance when its
 * text so far ends a sentence. Shorter than a breath between clauses is not a sentence end even
 * when Whisper closes the text with a period (it does so at the end of any audio it is given).
 */
const PERIOD_MIN_PAUSE_MS = 200;

export type EpdType = 'gap' | 'endPoint' | 'durationThreshold' | 'period' | 'syllableThreshold' | 'unvoice';

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
  speech: boolean;
  /** Samples the last partial decode covered. */
  decodedTo: number;
  /** End (in pcm samples) of the last window VAD did not call silence. */
  lastSpeechEnd: number;
  /** The engine's text of the last partial (before keyword correction): the next partial's draft. */
  partialText?: string;
  /** A syllableThreshold cut is queued for this utterance. */
  cutQueued?: boolean;
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
  private pending = new Float32Array(0);
  private carry: Buffer | undefined;
  private firstChunk = true;
  /** Samples received since the stream began. */
  private received = 0;
  private utt: Utterance;
  private inSpeech = false;
  private silenceSince: number | undefined;
  private seqId = 0;
  private transcriptLength = 0;
  private partial: { abort: AbortController; done: Promise<void> } | undefined;
  /** Wall time of the last partial decode. */
  private partialCostMs = 0;
  private speculation: Speculation | undefined;
  private unvoiceTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private mask: ((t: string) => string) | undefined;
  /** Keyword boosting: decoder levers and the near-miss correction of their output. */
  private boost: KeywordBoost | undefined;
  private corrector: KeywordCorrector | undefined;

  constructor(private readonly o: SessionOptions) {
    this.settings = defaultSettings(o.domainLanguage);
    this.vad = o.vad.stream();
    this.utt = this.newUtterance(0);
    this.armUnvoice();
  }

  /** CONFIG: acknowledged at once. False if it was malformed (the transport then ends the stream). */
  config(text: string): boolean {
    try {
      const { settings, ack } = parseStreamConfig(text, this.o.domainLanguage);
      this.settings = settings;
      this.mask = forbiddenMatcher(settings.forbiddens);
      // The domain's set as it stands when the stream is configured.
      const keywords = settings.useDomainBoostings ? (this.o.domainBoostings?.() ?? []) : settings.boostings;
      this.boost = keywords.length > 0 ? { keywords, weight: settings.boostWeight } : undefined;
      this.corrector = keywordCorrector(keywords, settings.language);
      this.configured = true;
      this.o.send({ uid: this.uid, responseType: ['config'], config: ack });
      return true;
    } catch (err) {
      if (!(err instanceof StreamConfigError)) throw err;
      this.o.send({ uid: this.uid, responseType: ['recognize'], recognize: { status: 'Invalid format', message: err.message } });
      return false;
    }
  }

  get hasConfig(): boolean {
    return this.configured;
  }

  /** DATA: any chunk size; `extra` is the `extra_contents` JSON (may be empty or missing). */
  data(chunk: Uint8Array, extra: string | undefined): void {
    this.armUnvoice();
    const { seqId, epFlag } = parseExtra(extra);
    this.enqueue(async () => {
      if (seqId !== undefined) this.seqId = seqId;
      await this.feed(chunk);
      if (epFlag) await this.finalize('endPoint');
    });
  }

  /** The client half-closed: flush what is open; resolves once every response was sent. */
  async end(): Promise<void> {
    this.enqueue(async () => {
      if (this.pending.length > 0) await this.runVad(true);
      if (this.utt.speech) await this.finalize('endPoint');
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
      this.o.logger.error({ err, uid: this.uid }, 'stream processing failed');
      this.o.send({ uid: this.uid, responseType: ['recognize'], recognize: { status: 'Internal error' } });
    });
  }

  private armUnvoice(): void {
    clearTimeout(this.unvoiceTimer);
    if (this.closed) return;
    this.unvoiceTimer = setTimeout(() => {
      this.enqueue(async () => {
        if (this.utt.speech) await this.finalize('unvoice');
      });
    }, this.o.unvoiceMs ?? 10_000);
    this.unvoiceTimer.unref();
  }

  private newUtterance(start: number): Utterance {
    return { start, pcm: new Float32Array(SR * 4), length: 0, speech: false, decodedTo: 0, lastSpeechEnd: 0 };
  }

  /** 16-bit little-endian PCM (a leading WAV header skipped, odd bytes carried over). */
  private async feed(chunk: Uint8Array): Promise<void> {
    let bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.firstChunk && bytes.length > 0) {
      this.firstChunk = false;
      bytes = skipWavHeader(bytes);
    }
    if (this.carry !== undefined) {
      bytes = Buffer.concat([this.carry, bytes]);
      this.carry = undefined;
    }
    if (bytes.length % 2 === 1) {
      this.carry = Buffer.from(bytes.subarray(bytes.length - 1));
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    const samples = new Float32Array(bytes.length / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2) / 32768;
    const joined = new Float32Array(this.pending.length + samples.length);
    joined.set(this.pending);
    joined.set(samples, this.pending.length);
    this.pending = joined;
    await this.runVad(false);
  }

  private async runVad(flush: boolean): Promise<void> {
    let at = 0;
    while (this.pending.length - at >= WINDOW || (flush && at < this.pending.length)) {
      const win = this.pending.subarray(at, at + WINDOW);
      at += win.length;
      const p = await this.vad.push(win);
      this.append(win);
      const windowEnd = this.received;
      if (p >= SPEECH_OFF) {
        this.utt.lastSpeechEnd = this.utt.length;
        // Speech again: a final decoded at the start of the pause would miss it.
        if (this.speculation !== undefined && this.speculation.upTo < this.utt.length) this.dropSpeculation();
      }
      if (p >= SPEECH_ON) {
        this.inSpeech = true;
        this.utt.speech = true;
        this.silenceSince = undefined;
      } else if (this.inSpeech && p < SPEECH_OFF) {
        if (this.silenceSince === undefined) {
          this.silenceSince = windowEnd - win.length;
          this.speculate();
        }
        const pauseMs = ((windowEnd - this.silenceSince) / SR) * 1000;
        if (pauseMs >= this.settings.epd.gapThresholdMs) {
          this.inSpeech = false;
          await this.finalize('gap');
          continue;
        }
        if (this.settings.epd.usePeriodEpd && pauseMs >= Math.min(PERIOD_MIN_PAUSE_MS, this.settings.epd.gapThresholdMs)
          && this.speculation?.settled !== undefined && endsSentence(this.speculation.settled.text)) {
          this.inSpeech = false;
          await this.finalize('period');
          continue;
        }
      } else if (p >= SPEECH_OFF) {
        this.silenceSince = undefined;
      }
      if (this.utt.speech && (this.utt.length / SR) * 1000 >= this.settings.epd.durationThresholdMs) {
        await this.finalize('durationThreshold');
        continue;
      }
      // Only while the speaker is talking: on a fading window the speculative final is about to
      // start, and a partial's encoder pass (a third of a second) would hold the engine.
      if (p >= SPEECH_ON) this.maybePartial();
    }
    this.pending = this.pending.slice(at);
  }

  private append(win: Float32Array): void {
    const u = this.utt;
    if (!u.speech && u.length + win.length > PREROLL_SAMPLES * 2) {
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
    const interval = (Math.max(this.o.partialIntervalMs ?? 500, 2 * this.partialCostMs) / 1000) * SR;
    // During a pause the speculative final is running: a partial would only delay it.
    if (!u.speech || this.partial !== undefined || this.speculation !== undefined || u.length - u.decodedTo < interval) return;
    u.decodedTo = u.length;
    const abort = new AbortController();
    const pcm = u.pcm.slice(0, u.length);
    const utt = u;
    const started = performance.now();
    const done = this.o.engine
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
          const text = this.postprocess(t.text);
          if (text === '') return;
          this.o.send(this.transcription(text, utt.start, utt.start + pcm.length, false, '', t, undefined));
        },
        () => undefined,
      )
      .finally(() => {
        if (this.partial?.abort === abort) this.partial = undefined;
      });
    this.partial = { abort, done };
  }

  /** `syllableThreshold`: once the open utterance has said that many syllables, it ends there. */
  private maybeCutAtSyllables(utt: Utterance, text: string): void {
    const limit = this.settings.epd.syllableThreshold;
    if (limit <= 0 || utt.cutQueued === true || this.utt !== utt || countSyllables(text) < limit) return;
    utt.cutQueued = true;
    this.enqueue(async () => {
      if (this.utt === utt) await this.finalize('syllableThreshold');
    });
  }

  /**
   * A pause began: decode the utterance as it stands, at final quality, right away. If the pause
   * turns out to end the utterance (gap, epFlag), the final is ready or nearly so; if speech
   * resumes, the decode is dropped.
   */
  private speculate(): void {
    const u = this.utt;
    if (!u.speech) return;
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
    return this.o.engine
      .transcribe(pcm, {
        language: this.settings.language,
        boost: this.boost,
        beamSize: this.o.finalBeamSize,
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
    this.utt = this.newUtterance(this.received);
    this.inSpeech = false;
    this.silenceSince = undefined;
    this.partial?.abort.abort(new Error('superseded by the final result'));
    this.partial = undefined;
    const spec = this.speculation;
    this.speculation = undefined;
    let transcript: Transcript | undefined;
    if (u.speech && u.length > 0) {
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
    const text = transcript === undefined ? '' : this.postprocess(transcript.text);
    if (text === '' && (this.settings.epd.skipEmptyText || epdType !== 'endPoint')) return;
    this.o.send(this.transcription(text, u.start, u.start + u.length, true, epdType, transcript, this.seqId));
    if (text !== '') this.transcriptLength += text.length + 1;
  }

  private postprocess(text: string): string {
    let t = text.trim();
    if (this.settings.language === 'zh') t = toSimplified(t);
    return this.mask === undefined ? t : this.mask(t);
  }

  private transcription(
    text: string,
    startSample: number,
    endSample: number,
    final: boolean,
    epdType: EpdType | '',
    transcript: Transcript | undefined,
    seqId: number | undefined,
  ): Record<string, unknown> {
    const ms = (samples: number) => Math.round((samples / SR) * 1000);
    const words = final ? (transcript?.segments.flatMap((s) => s.words ?? []) ?? []) : [];
    const alignInfos = words
      .filter((w) => w.text.trim() !== '')
      .map((w) => ({
        word: this.mask === undefined ? w.text.trim() : this.mask(w.text.trim()),
        start: ms(startSample) + Math.round(w.start * 1000),
        end: ms(startSample) + Math.round(w.end * 1000),
        confidence: Math.round(w.probability * 1000) / 1000,
      }));
    const periods = periodPositions(text);
    const lp = transcript?.segments.map((s) => s.avgLogProb) ?? [];
    const confidence = alignInfos.length > 0
      ? alignInfos.reduce((a, w) => a + w.confidence, 0) / alignInfos.length
      : lp.length > 0 ? Math.exp(lp.reduce((a, b) => a + b, 0) / lp.length) : 0;
    return {
      uid: this.uid,
      responseType: ['transcription'],
      transcription: {
        text,
        position: this.transcriptLength,
        periodPositions: periods,
        periodAlignIndices: final ? periodAlignIndices(text, alignInfos.map((w) => w.word), periods) : [],
        epFlag: final,
        seqId: seqId ?? this.seqId,
        epdType,
        startTimestamp: alignInfos[0]?.start ?? ms(startSample),
        endTimestamp: alignInfos.at(-1)?.end ?? ms(endSample),
        confidence: Math.round(confidence * 1000) / 1000,
        alignInfos,
      },
    };
  }
}

function parseExtra(extra: string | undefined): { seqId?: number; epFlag: boolean } {
  if (extra === undefined || extra.trim() === '') return { epFlag: false };
  try {
    const v = JSON.parse(extra) as { seqId?: unknown; epFlag?: unknown };
    const seqId = typeof v.seqId === 'number' && Number.isFinite(v.seqId) ? v.seqId : undefined;
    return { seqId, epFlag: v.epFlag === true || v.epFlag === 'true' };
  } catch {
    return { epFlag: false };
  }
}

/** A first chunk starting with a RIFF/WAVE header: skip to the samples of its `data` chunk. */
export function skipWavHeader(bytes: Buffer): Buffer {
  if (bytes.length < 12 || bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE') return bytes;
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = bytes.toString('ascii', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    if (id === 'data') return bytes.subarray(at + 8);
    at += 8 + size + (size % 2);
  }
  return bytes.subarray(Math.min(44, bytes.length));
}
