/**
 * One long-form job's work, from its media file on disk to CLOVA's result body: probe, speakers
 * and sound events beside recognition, a second look where VAD or the speakers' turns say someone
 * spoke and recognition heard nothing, speakers assigned, the body built. The job runner runs it
 * for every job it claims (with its checkpoint and lease), and `sori transcribe` runs it
 * in-process for each file, so a file gives the same segments, words and speakers either way.
 */
import type { Logger } from 'pino';
import { boostingKeywords, engineLanguage, type LongformParams } from '../clova/longform-params.js';
import type { CompletedResult } from '../clova/longform-result.js';
import type { Config } from '../config.js';
import { probeFile, type ToolLimits } from '../media/decode.js';
import type { SpeechEngine } from '../speech/engine.js';
import type { SileroVad } from '../speech/vad/silero.js';
import { forbiddenMatcher, parseForbiddens } from '../transcript/forbidden.js';
import { keptApart, type LongformSegment } from '../transcript/segments.js';
import { assignSpeakers, type SpeakerTurn } from '../transcript/speakers.js';
import { enrichMedia, type EnrichDeps, type Enrichment } from './enrich.js';
import { JobFailure } from './failures.js';
import { recognizeMedia, type RecognizeOutcome, type RecognizeRequest } from './recognize.js';
import { completedResult } from './result.js';
import { secondLook } from './second-look.js';

export interface TranscribeMediaDeps {
  engine: SpeechEngine;
  /** Loaded on first use. */
  vad: () => Promise<SileroVad>;
  /** Diarization and sound-event models, loaded on first use. */
  enrich: EnrichDeps;
  config: Pick<Config, 'longform' | 'subtitles'>;
  /** ffmpeg's time, stall and memory bounds (config `media`). */
  tools: ToolLimits;
}

export interface TranscribeMediaInput {
  token: string;
  domain: string;
  params: LongformParams;
  mediaPath: string;
  /** Media time already done by an earlier, interrupted attempt, and what it produced. */
  resumeAtMs: number;
  done: LongformSegment[];
}

export interface TranscribeMediaHooks {
  signal: AbortSignal;
  /** The container's duration once probed (undefined: it does not say). */
  onDuration?: (durationS: number | undefined) => void;
  /** 0-1 of the media recognised (stays below 1 until the body is built). */
  onProgress?: (fraction: number) => void;
  /** After each window: everything up to `resumeAtMs` is final (a checkpoint may save it). */
  onWindowDone?: (resumeAtMs: number, segments: readonly LongformSegment[]) => void;
  /** Where the second look reports what it found (the job's logger). */
  log?: Logger;
}

export interface TranscribedMedia {
  result: CompletedResult;
  /** Media length actually decoded, in ms. */
  audioMs: number;
  /** Segments of the first pass (what the job's log line reports). */
  segmentCount: number;
}

export async function transcribeMedia(deps: TranscribeMediaDeps, input: TranscribeMediaInput, hooks: TranscribeMediaHooks): Promise<TranscribedMedia> {
  const { params, mediaPath } = input;
  const durationS = await probeDuration(deps, mediaPath, params, hooks.signal);
  hooks.onDuration?.(durationS);
  const enrichment = startEnrichment(deps, mediaPath, params, hooks.signal);
  const recognized = await recognize(deps, input, durationS, hooks);
  const { turns, events } = await enrichment;
  const language = engineLanguage(params.language).code;
  const heard = await withSecondLook(deps, input, recognized, turns ?? [], hooks);
  const segments = turns === undefined ? heard : assignSpeakers(heard, turns, language);
  const result = completedResult(
    { token: input.token, domain: input.domain, params, version: deps.engine.version, subtitleLineChars: deps.config.subtitles.lineChars },
    segments,
    events,
  );
  return { result, audioMs: recognized.durationMs, segmentCount: recognized.segments.length };
}

function maxSeconds(deps: TranscribeMediaDeps, params: LongformParams): number {
  const { longform } = deps.config;
  return params.completion === 'sync' ? longform.syncMaxSeconds : longform.asyncMaxSeconds;
}

/** The container's duration (if it tells), refusing media longer than the request's completion accepts. */
async function probeDuration(deps: TranscribeMediaDeps, path: string, params: LongformParams, signal: AbortSignal): Promise<number | undefined> {
  const { durationS } = await probeFile(path, { ...deps.tools, signal });
  const maxS = maxSeconds(deps, params);
  if (durationS !== undefined && durationS > maxS + 1) {
    throw new JobFailure('ERROR_REQUEST_PARAMETER', `media is ${Math.round(durationS)} s long; ${params.completion} requests accept up to ${maxS} s`);
  }
  return durationS;
}

/** Speakers and sound events, over the whole file beside recognition; awaited after it. */
function startEnrichment(deps: TranscribeMediaDeps, path: string, params: LongformParams, signal: AbortSignal): Promise<Enrichment> {
  const enrichment = enrichMedia(deps.enrich, {
    mediaPath: path,
    diarization: params.diarization.enable ? params.diarization : undefined,
    sed: params.sed.enable,
    maxSeconds: maxSeconds(deps, params),
    tools: deps.tools,
    signal,
  });
  // Unobserved until recognition ends; a rejection meanwhile must not count as unhandled.
  enrichment.catch(() => undefined);
  return enrichment;
}

/**
 * Recognition from the checkpoint on. Checks the decoded length too: the container's duration
 * may be missing or wrong.
 */
async function recognize(deps: TranscribeMediaDeps, input: TranscribeMediaInput, durationS: number | undefined, hooks: TranscribeMediaHooks): Promise<RecognizeOutcome> {
  const { params } = input;
  const maxS = maxSeconds(deps, params);
  const outcome = await recognizeMedia(
    deps.engine,
    await deps.vad(),
    {
      ...textOptions(params, input.mediaPath, deps.tools),
      noiseFiltering: params.noiseFiltering,
      resumeAtMs: input.resumeAtMs,
      done: input.done,
      durationS,
      // A container may claim less than it holds: decoding stops at the limit instead of recognising hours first.
      maxSeconds: maxS,
    },
    { signal: hooks.signal, onProgress: hooks.onProgress, onWindowDone: hooks.onWindowDone },
  );
  if (outcome.durationMs > (maxS + 1) * 1000) {
    throw new JobFailure('ERROR_REQUEST_PARAMETER', `media is longer than the ${maxS} s limit of ${params.completion} requests`);
  }
  return outcome;
}

/**
 * The first pass's segments plus what a second look finds where VAD heard speech, or a speaker's
 * turn says someone spoke, and the first pass heard nothing: a window's search that ended early
 * (end of text before its last sentence) loses that sentence otherwise.
 */
async function withSecondLook(
  deps: TranscribeMediaDeps,
  input: TranscribeMediaInput,
  recognized: RecognizeOutcome,
  turns: SpeakerTurn[],
  hooks: TranscribeMediaHooks,
): Promise<LongformSegment[]> {
  const look = await secondLook(
    deps.engine,
    { ...textOptions(input.params, input.mediaPath, deps.tools), mediaMs: recognized.durationMs },
    recognized.segments,
    [...turns, ...recognized.speech],
    hooks.signal,
  );
  if (look.spans > 0) hooks.log?.info({ spans: look.spans, kept: look.kept, segments: look.segments.length }, 'second look at uncovered speech');
  if (look.segments.length === 0) return recognized.segments;
  return keptApart([...recognized.segments, ...look.segments].sort((a, b) => a.start - b.start));
}

/** What the first pass and the second look both decode with: the media, ffmpeg's bounds, language, script, keywords and masking. */
function textOptions(params: LongformParams, mediaPath: string, tools: ToolLimits): Pick<RecognizeRequest, 'mediaPath' | 'tools' | 'language' | 'script' | 'keywords' | 'mask'> {
  const language = engineLanguage(params.language);
  return {
    mediaPath,
    tools,
    language: language.code,
    script: language.script,
    keywords: boostingKeywords(params),
    mask: forbiddenMatcher(parseForbiddens(params.forbiddens)),
  };
}
