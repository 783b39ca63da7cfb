/**
 * The one speech-engine interface. Every runtime adapter (today: Whisper on onnxruntime-node)
 * implements it; routes, jobs and streams only ever see this.
 * Times are in seconds (floating point) from the start of the PCM given.
 */

import type { Assessment } from './assessment/types.js';

/**
 * Scheduling classes, most urgent first: a stream's final result, a stream's partial result, a
 * short request, long-form batch work.
 */
export const PRIORITIES = ['stream', 'partial', 'short', 'batch'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Keyword boosting inside the decoder (the text post-correction is the caller's: transcript/boosting). */
export interface KeywordBoost {
  keywords: string[];
  /**
   * Also put the keywords into the decoder prompt (when no explicit `prompt` is given). Default
   * false: measured with `npm run bench:boosting`, the prompt adds no recall over the bias on the
   * tuning clips and costs CER on clips without the keywords (a list-shaped prompt makes Whisper
   * answer in lists, or skip speech); see docs/decisions.md#keyword-boosting-levers.
   */
  prompt?: boolean;
  /** Scale of the decoding bonus toward keyword tokens: 0 turns the bias off. Default 1. */
  weight?: number;
}

/**
 * What the decoder writes: the speech's own words, or their English translation (Whisper's
 * `<|translate|>` task; large-v3-turbo was not trained for it and mostly transcribes).
 */
export const TASKS = ['transcribe', 'translate'] as const;
export type Task = (typeof TASKS)[number];

export interface TranscribeOptions {
  /**
   * Whisper language code (ko, en, ja, zh, ...) of the speech. Absent: detected from the first
   * 30 s (Whisper's language identification, one decoder step); `Transcript.language` says which.
   */
  language?: string;
  /** Default 'transcribe'. */
  task?: Task;
  /** Text the decoder is conditioned on; wins over the keyword prompt of `boost`. */
  prompt?: string;
  /** Keyword boosting: decoding bias (prompt only with `boost.prompt`). No keywords: plain decoding. */
  boost?: KeywordBoost;
  /** 1 = greedy. Default 5. */
  beamSize?: number;
  /** Word timings from cross-attention (costs one extra decoder pass per window). */
  wordTimestamps?: boolean;
  /** Temperature fallback on repetitive / low-confidence output. Default true. */
  temperatureFallback?: boolean;
  /**
   * The first decoding temperature: 0 (default) is beam search (greedy at beam 1); above 0,
   * best-of-5 sampling. The fallback goes on up Whisper's ladder (0.2, 0.4, ... 1.0) from it.
   */
  temperature?: number;
  /**
   * Decode with timestamp tokens even when the audio fits one window, so that its segments are
   * Whisper's own (sentence-like, timed), not one per window. Costs a few decoder steps.
   */
  segmentTimestamps?: boolean;
  /**
   * Audio under 30 s: run the encoder on the audio plus a margin instead of a whole window
   * (4-9x cheaper for 5-10 s; CER within ~0.5 point). For latency-bound callers (streams).
   */
  shortContext?: boolean;
  /**
   * What an earlier decode of this audio's beginning said (a stream's last result for the open
   * utterance). Audio under 30 s: the decoder checks it in one pass and goes on from the first
   * token it would not write itself, instead of writing every token again. Speed only: greedy
   * output is unchanged; beam search takes only tokens it is confident of (see acceptDraft).
   */
  draft?: string;
  priority?: Priority;
  /**
   * Pronunciation assessment of the same audio (English and Korean; see AssessmentRequest), run in
   * the same inference request, so at the same priority and after the transcription.
   */
  assessment?: AssessmentRequest;
  /** Aborting drops the request from the queue, or stops it between decoding steps. */
  signal?: AbortSignal;
}

export interface WordTiming {
  start: number;
  end: number;
  /** As decoded, with its leading space when it begins a new word: join texts, then trim. */
  text: string;
  probability: number;
}

export interface Segment {
  start: number;
  end: number;
  text: string;
  /** Mean token log-probability of the window this segment came from. */
  avgLogProb: number;
  noSpeechProb: number;
  words?: WordTiming[];
  /** The segment's tokens as decoded (timestamp tokens included, end-of-text not). */
  tokens?: number[];
  /** Where the decoding window of this segment starts, in mel frames (100 per second). */
  seek?: number;
  /** The temperature of the window's accepted decode. */
  temperature?: number;
  /** The window's text size over its deflated size (above 2.4: repetitive, so fallback). */
  compressionRatio?: number;
}

export interface Transcript {
  text: string;
  /** The language decoded: the one asked for, or the one detected. */
  language: string;
  segments: Segment[];
  durationS: number;
  /** Present when TranscribeOptions.assessment was given. */
  assessment?: AssessmentOutcome;
}

export interface AssessmentRequest {
  /** The text the speaker was asked to read (CLOVA's `utterance`); absent: what was recognised. */
  text?: string;
  /** Also synthesise the text's standard pronunciation (for `ref_graph`). */
  reference?: boolean;
}

export interface AssessmentOutcome {
  assessment: Assessment;
  /**
   * The amplitude envelope (media/envelope.ts, 50 values per second) of the assessed text's
   * standard pronunciation, when `reference` was asked; not yet aligned to the user's audio.
   */
  referenceEnvelope?: number[];
}

/** The assessment asked for cannot be given for this audio (e.g. Korean over one 30 s window). */
export class AssessmentUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssessmentUnavailableError';
  }
}

export interface SpeechEngine {
  /** e.g. "whisper-base (onnxruntime-node 1.30.0, int8)" */
  readonly version: string;
  /** Resolves once models are loaded and a warm-up decode ran. */
  ready(): Promise<void>;
  /** 16 kHz mono float PCM in [-1, 1]; any length (windows of 30 s inside). */
  transcribe(pcm: Float32Array, opts: TranscribeOptions): Promise<Transcript>;
  /**
   * Windows of one long recording (each at most 30 s) with the same options, as one request:
   * one transcript per window, in order, each what `transcribe` gives for it up to rounding. An
   * engine that has it decodes them faster together; `windowBatch` is how many it wants at once.
   */
  transcribeMany?(pcms: Float32Array[], opts: TranscribeOptions): Promise<Transcript[]>;
  readonly windowBatch?: number;
  /** Requests waiting plus running, per priority. */
  load(): { queued: number; running: number; capacity: number };
  close(): Promise<void>;
}

/** The model has no such language (the caller named one it cannot decode). */
export class UnsupportedLanguageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedLanguageError';
  }
}

/** Thrown at once (never after a wait) when the scheduler's bounded queue is full. */
export class EngineBusyError extends Error {
  constructor(message = 'engine queue is full') {
    super(message);
    this.name = 'EngineBusyError';
  }
}

/** How often work that waits for room in a full engine queue asks again. */
const BUSY_RETRY_MS = 500;

/**
 * `work` (an engine call) until the engine takes it: background work (long-form windows) waits
 * for room in a full queue instead of failing; any other error, or `signal` aborting, ends it.
 */
export async function whenEngineFree<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
  for (;;) {
    signal?.throwIfAborted();
    try {
      return await work();
    } catch (err) {
      if (!(err instanceof EngineBusyError)) throw err;
      await new Promise((r) => setTimeout(r, BUSY_RETRY_MS));
    }
  }
}

/** Decoding failed inside the runtime (not the caller's input). */
export class EngineFailedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineFailedError';
  }
}

/**
 * The inference process died under the request (a native crash, the kernel's OOM killer) and a
 * new one is starting: not the request's fault, and the same request may well succeed again.
 */
export class InferenceProcessExitedError extends EngineFailedError {
  constructor(message: string) {
    super(message);
    this.name = 'InferenceProcessExitedError';
  }
}

export interface EngineConfig {
  modelsDir: string;
  /** Model name resolved inside modelsDir, e.g. "whisper-base". */
  model: string;
  /** Total CPU threads inference may use (default: all cores). */
  threads: number;
  /** Decodes running at once; threads are split between them. */
  parallel: number;
  /** Requests of one priority class each inference process decodes at once, their decoder steps batched (default 1). */
  batch?: number;
  /** Windows of one long recording each inference process decodes together, their searches in lockstep (default 1). */
  windowBatch?: number;
  /** Requests that may wait beyond the running ones before EngineBusyError. */
  queueLimit: number;
  /** Default beam size when a request names none. */
  beamSize: number;
  /** Pronunciation assessment's reference envelopes cached per inference process (default 256). */
  referenceCacheSize?: number;
  /**
   * Requests of the 'short' class that say nothing of `shortContext` (and ask for no assessment)
   * get it: the encoder on their audio instead of a 30 s window. Default false.
   */
  shortRequestContext?: boolean;
  /**
   * A folder the inference processes keep the model's weights in, as data files beside the
   * (rewritten) graphs: ~100 MB less memory per process for Whisper base. Absent: loaded from memory.
   */
  modelCacheDir?: string;
  /** Where engine events (an inference process restarting) are reported; default stderr. */
  onLog?: (message: string) => void;
}
