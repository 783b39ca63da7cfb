/**
 * Builds the bodies a long-form job answers with; their shapes are CLOVA's, declared in
 * clova/longform-result.ts.
 */
import { engineLanguage, shortLang, type LongformParams } from '../clova/longform-params.js';
import type { CompletedResult, EchoedParams, JobStatusBody, ResultSegment, ResultSpeaker } from '../clova/longform-result.js';
import type { LongformSegment } from '../transcript/segments.js';
import { round4 } from '../transcript/segments.js';
import type { JobRecord } from './store.js';
import { writeSubtitles, type SubtitleFormat } from '../transcript/subtitles/index.js';
import { eventTypes, type SoundEvent } from '../speech/events/index.js';
import { DENOISE } from '../media/denoise.js';

export interface ResultContext {
  token: string;
  domain: string;
  params: LongformParams;
  version: string;
  /** Subtitle characters per line by language, overriding the defaults. */
  subtitleLineChars?: Record<string, number>;
}

/** `params` as echoed: the spec's fields with their defaults applied. */
export function echoParams(ctx: ResultContext): EchoedParams {
  const p = ctx.params;
  return {
    service: 'ncp',
    domain: ctx.domain,
    lang: shortLang(p.language),
    completion: p.completion,
    ...(p.callback === undefined ? {} : { callback: p.callback }),
    diarization: p.diarization,
    sed: p.sed,
    boostings: p.boostings,
    useDomainBoostings: p.useDomainBoostings,
    forbiddens: p.forbiddens,
    wordAlignment: p.wordAlignment,
    fullText: p.fullText,
    noiseFiltering: p.noiseFiltering,
    // What really ran: no denoiser measured better than none (src/media/denoise.ts), so none does.
    noiseFilteringApplied: p.noiseFiltering && DENOISE.enabled,
    resultToObs: p.resultToObs,
    format: p.format,
    priority: 0,
    userdata: p.userdata,
  };
}

export function completedResult(ctx: ResultContext, segments: readonly LongformSegment[], events: readonly SoundEvent[] = []): CompletedResult {
  const p = ctx.params;
  const speakerOf = (label: string): ResultSpeaker => ({ label, name: speakerName(label), edited: false });
  const out = segments.map((s): ResultSegment => ({
    start: s.start,
    end: s.end,
    text: s.text,
    confidence: s.confidence,
    ...(p.diarization.enable ? { diarization: { label: s.speaker ?? '1' }, speaker: speakerOf(s.speaker ?? '1') } : {}),
    words: p.wordAlignment ? s.words : [],
    textEdited: s.text,
  }));
  const labels = [...new Set(segments.map((s) => s.speaker ?? '1'))].sort((a, b) => Number(a) - Number(b));
  // Weighted by duration, so a one-word segment does not count as much as a long sentence.
  let weight = 0;
  let sum = 0;
  for (const s of segments) {
    const w = Math.max(s.end - s.start, 1);
    weight += w;
    sum += w * s.confidence;
  }
  return {
    result: 'COMPLETED',
    message: 'Succeeded',
    token: ctx.token,
    version: ctx.version,
    params: echoParams(ctx),
    progress: 100,
    keywords: {},
    segments: out,
    ...(p.fullText ? { text: segments.map((s) => s.text).join(' ') } : {}),
    confidence: weight > 0 ? round4(sum / weight) : 0,
    speakers: p.diarization.enable ? labels.map(speakerOf) : [],
    events,
    eventTypes: eventTypes(events),
    ...(p.format === 'JSON' ? {} : {
      subtitle: writeSubtitles(
        p.format,
        segments.map((s) => ({ ...s, speaker: p.diarization.enable ? speakerName(s.speaker ?? '1') : undefined })),
        engineLanguage(p.language).code,
        ctx.subtitleLineChars,
      ),
    }),
  };
}

/** "1" -> "A", "2" -> "B", ..., "27" -> "AA": CLOVA's speaker names. */
export function speakerName(label: string): string {
  let n = Number(label);
  if (!Number.isInteger(n) || n < 1) return label;
  let name = '';
  while (n > 0) {
    n--;
    name = String.fromCharCode(65 + (n % 26)) + name;
    n = Math.floor(n / 26);
  }
  return name;
}

/** GET /recognizer/{token} and callbacks: what the job looks like now. */
export function statusBody(job: JobRecord): JobStatusBody {
  switch (job.state) {
    case 'COMPLETED':
      // Stored as completedResult built it.
      return job.result as CompletedResult;
    case 'FAILED':
    case 'TIMEOUT':
      return {
        result: job.state,
        message: job.errorMessage ?? job.state,
        token: job.token,
        errorCode: job.errorCode ?? 'ERROR_INTERNAL_ERROR',
        progress: job.progress,
      };
    case 'WAITING':
      return { result: 'WAITING', message: 'Waiting', token: job.token, progress: 0 };
    case 'PROCESSING':
      return { result: 'PROCESSING', message: 'Processing', token: job.token, progress: job.progress };
  }
}

/**
 * Sori's addition: a COMPLETED job's subtitles in any format, written from its stored segments
 * (speaker names included), whatever `format` it ran with. Undefined before it completes.
 */
export function subtitleOf(job: JobRecord, format: SubtitleFormat, lineChars?: Record<string, number>): string | undefined {
  if (job.state !== 'COMPLETED') return undefined;
  const result = job.result as CompletedResult;
  const params = job.params as LongformParams;
  return writeSubtitles(
    format,
    result.segments.map((s) => ({ start: s.start, end: s.end, text: s.text, words: s.words, speaker: s.speaker?.name })),
    engineLanguage(params.language).code,
    lineChars,
  );
}
