/**
 * Long-form recognition of one media file: ffmpeg streams PCM, VAD cuts it into windows of at
 * most 30 s, the engine transcribes each window (batch priority), and the windows become CLOVA
 * segments. Memory holds about two windows of audio whatever the file's length. The window loop
 * itself is speech/windowed.ts (the OpenAI route's long files run it too).
 */
import { SAMPLE_RATE, samplesToMs } from '../audio.js';
import { streamPcm } from '../media/pcm-stream.js';
import type { ToolLimits } from '../media/decode.js';
import { denoiseArgs } from '../media/denoise.js';
import { whenEngineFree, type SpeechEngine, type Transcript, type TranscribeOptions } from '../speech/engine.js';
import type { SileroVad } from '../speech/vad/silero.js';
import { engineWindowGroups, WindowedTranscription } from '../speech/windowed.js';
import { toSimplified, toTraditional } from '../transcript/chinese.js';
import { segmentsFromWindow, utterances, type LongformSegment } from '../transcript/segments.js';
import type { Span } from '../transcript/coverage.js';
import { maskSegment } from '../transcript/forbidden.js';
import { correctSegment, keywordCorrector } from '../transcript/boosting.js';

export interface RecognizeRequest {
  mediaPath: string;
  /** Engine language code. */
  language: string;
  script?: 'simplified' | 'traditional';
  /** Boosting keywords: decoding bias per window, then near-miss correction. */
  keywords?: string[];
  /** Forbidden-word masking, applied before anything is stored. */
  mask?: (text: string) => string;
  /** CLOVA's `noiseFiltering`; a no-op while no denoiser measures better than none (denoise.ts). */
  noiseFiltering?: boolean;
  /** Media time already done by an earlier, interrupted attempt, and what it produced. */
  resumeAtMs: number;
  done: LongformSegment[];
  /** The container's duration, for progress (absent: progress stays put until the end). */
  durationS: number | undefined;
  /** Longest accepted media, in seconds: decoding stops past it ('too-long'), whatever the container claimed. */
  maxSeconds?: number;
  /** ffmpeg's stall and memory bounds. */
  tools?: ToolLimits;
}

export interface RecognizeHooks {
  /** 0-1 of the media processed. */
  onProgress?: (fraction: number) => void;
  /** After each window: everything up to `resumeAtMs` is final. */
  onWindowDone?: (resumeAtMs: number, segments: readonly LongformSegment[]) => void;
  signal?: AbortSignal;
}

export interface RecognizeOutcome {
  segments: LongformSegment[];
  /** Media length actually decoded, in ms. */
  durationMs: number;
  /**
   * Where VAD heard speech in this attempt (utterances, ms from the media start; not before
   * `resumeAtMs`): what the second look checks the segments' words against.
   */
  speech: Span[];
}

/** A pause this long ends a segment (and is where windows prefer to end). */
export const SEGMENT_PAUSE_S = 0.5;

export async function recognizeMedia(
  engine: SpeechEngine,
  vad: SileroVad,
  req: RecognizeRequest,
  hooks: RecognizeHooks = {},
): Promise<RecognizeOutcome> {
  const { signal } = hooks;
  const offset = Math.round((req.resumeAtMs / 1000) * SAMPLE_RATE);
  const segments = [...req.done];
  const totalSamples = req.durationS === undefined ? undefined : req.durationS * SAMPLE_RATE;
  const finish = segmentFinisher(req);
  const pcm = streamPcm(req.mediaPath, {
    ...req.tools,
    startS: req.resumeAtMs / 1000,
    outputArgs: denoiseArgs(req.noiseFiltering ?? false),
    maxSeconds: req.maxSeconds,
    signal,
  });
  const groups = engineWindowGroups(engine, batchOptions(req, signal), signal);
  const windows = new WindowedTranscription(vad, pcm, (window) => transcribeWhenFree(engine, window, req, signal), { longPauseS: SEGMENT_PAUSE_S }, groups);
  const speech: Span[] = [];
  for await (const { window, transcript } of windows) {
    const span = { start: window.start + offset, end: window.end + offset, speech: window.speech.map((s) => ({ start: s.start + offset, end: s.end + offset })) };
    for (const seg of segmentsFromWindow(span, transcript, SEGMENT_PAUSE_S)) segments.push(finish(seg));
    for (const u of utterances(span.speech, SEGMENT_PAUSE_S)) speech.push({ start: samplesToMs(u.start), end: samplesToMs(u.end) });
    const doneSamples = span.end;
    hooks.onWindowDone?.(samplesToMs(doneSamples), segments);
    if (totalSamples !== undefined) hooks.onProgress?.(Math.min(doneSamples / totalSamples, 0.99));
  }
  return { segments, durationMs: samplesToMs(windows.received + offset), speech };
}

/**
 * What every recognised segment goes through before it is kept: the script conversion, keyword
 * near-miss correction, then forbidden-word masking (corrected first, so that a keyword that is
 * also forbidden is still masked).
 */
export function segmentFinisher(req: Pick<RecognizeRequest, 'language' | 'script' | 'keywords' | 'mask'>): (seg: LongformSegment) => LongformSegment {
  const corrector = keywordCorrector(req.keywords ?? [], req.language);
  const convert = (text: string): string =>
    req.script === 'simplified' ? toSimplified(text) : req.script === 'traditional' ? toTraditional(text) : text;
  return (seg) => {
    if (req.script !== undefined) {
      seg.text = convert(seg.text);
      seg.words = seg.words.map(([s, e, t]) => [s, e, convert(t)]);
    }
    const corrected = corrector === undefined ? seg : correctSegment(seg, corrector);
    return req.mask === undefined ? corrected : maskSegment(corrected, req.mask);
  };
}

/** Batch work waits for room in the engine queue instead of failing the job. */
export function transcribeWhenFree(
  engine: SpeechEngine,
  pcm: Float32Array,
  req: Pick<RecognizeRequest, 'language' | 'keywords'>,
  signal: AbortSignal | undefined,
): Promise<Transcript> {
  return whenEngineFree(signal, () => engine.transcribe(pcm, batchOptions(req, signal)));
}

function batchOptions(req: Pick<RecognizeRequest, 'language' | 'keywords'>, signal: AbortSignal | undefined): TranscribeOptions {
  return {
    language: req.language,
    boost: req.keywords !== undefined && req.keywords.length > 0 ? { keywords: req.keywords } : undefined,
    wordTimestamps: true,
    priority: 'batch',
    signal,
  };
}
