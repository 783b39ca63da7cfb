/**
 * The bodies a long-form job answers with (spec section 2, "The result"), as types: the
 * finished result, the in-progress status and the failure. One shape everywhere: the sync
 * response, GET /recognizer/{token} and the callback. jobs/result.ts builds them.
 */
import type { SoundEvent } from '../speech/events/index.js';
import type { ClovaWord } from '../transcript/segments.js';
import type { LongformErrorCode } from './longform-errors.js';
import type { LongformParams, ResultFormat } from './longform-params.js';

/** `params` as echoed back: the request's fields with their defaults applied. */
export interface EchoedParams {
  service: 'ncp';
  domain: string;
  lang: string;
  completion: LongformParams['completion'];
  callback?: string;
  diarization: LongformParams['diarization'];
  sed: LongformParams['sed'];
  boostings: LongformParams['boostings'];
  useDomainBoostings: boolean;
  forbiddens: string;
  wordAlignment: boolean;
  fullText: boolean;
  noiseFiltering: boolean;
  /** Sori's addition: whether a denoiser really ran (see docs/decisions.md#noise-filtering). */
  noiseFilteringApplied: boolean;
  resultToObs: boolean;
  format: ResultFormat;
  priority: number;
  userdata: unknown;
}

export interface ResultSpeaker {
  /** "1", "2", ... */
  label: string;
  /** "A", "B", ... */
  name: string;
  edited: boolean;
}

export interface ResultSegment {
  /** Milliseconds from the start of the media. */
  start: number;
  end: number;
  text: string;
  confidence: number;
  /** With diarization only. */
  diarization?: { label: string };
  speaker?: ResultSpeaker;
  /** `[start, end, text]` per word; empty without `wordAlignment`. */
  words: ClovaWord[];
  textEdited: string;
}

export interface CompletedResult {
  result: 'COMPLETED';
  message: 'Succeeded';
  token: string;
  version: string;
  params: EchoedParams;
  progress: 100;
  keywords: Record<string, never>;
  segments: ResultSegment[];
  /** With `fullText`. */
  text?: string;
  confidence: number;
  speakers: ResultSpeaker[];
  events: readonly SoundEvent[];
  eventTypes: string[];
  /** With `format` SRT, SMI or VTT: the subtitle file. */
  subtitle?: string;
}

export interface FailedResult {
  result: 'FAILED' | 'TIMEOUT';
  message: string;
  token: string;
  errorCode: LongformErrorCode | string;
  progress: number;
}

export interface PendingResult {
  result: 'WAITING' | 'PROCESSING';
  message: 'Waiting' | 'Processing';
  token: string;
  progress: number;
}

/** What GET /recognizer/{token} and a callback carry, whatever the job's state. */
export type JobStatusBody = CompletedResult | FailedResult | PendingResult;
