/**
 * OpenAI's answers to an audio request, in each `response_format`, and its streaming events.
 * Shapes as the official SDKs type them (openai-node resources/audio/transcriptions.ts):
 * `Transcription`, `TranscriptionVerbose` with `TranscriptionSegment` and `TranscriptionWord`,
 * `TranscriptionTextDeltaEvent`, `TranscriptionTextDoneEvent`.
 */
import type { Segment, Task } from '../../speech/engine.js';
import { languageName } from '../../speech/whisper/languages.js';
import { writeSrt } from '../../transcript/subtitles/srt.js';
import { writeVtt } from '../../transcript/subtitles/vtt.js';
import type { AudioRequest } from './params.js';

/** A finished recognition, as the formats need it. */
export interface AudioResult {
  task: Task;
  /** The speech's language (Whisper code). */
  language: string;
  durationS: number;
  text: string;
  /** Times in seconds from the start of the audio. */
  segments: Segment[];
}

export interface OpenAISegment {
  id: number;
  seek: number;
  start: number;
  end: number;
  text: string;
  tokens: number[];
  temperature: number;
  avg_logprob: number;
  compression_ratio: number;
  no_speech_prob: number;
}

export interface OpenAIWord {
  word: string;
  start: number;
  end: number;
}

export interface DurationUsage {
  type: 'duration';
  /** Whole seconds, rounded up, as OpenAI bills. */
  seconds: number;
}

/** The joined text of parts (windows) recognised one after another. */
export function joinTexts(texts: readonly string[]): string {
  return texts.map((t) => t.trim()).filter((t) => t !== '').join(' ');
}

function usage(durationS: number): DurationUsage {
  return { type: 'duration', seconds: Math.ceil(Math.round(durationS * 1000) / 1000) };
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

function openaiSegments(segments: readonly Segment[]): OpenAISegment[] {
  return segments.map((s, id) => ({
    id,
    seek: s.seek ?? 0,
    start: s.start,
    end: s.end,
    text: s.text,
    tokens: s.tokens ?? [],
    temperature: s.temperature ?? 0,
    avg_logprob: round(s.avgLogProb, 6),
    compression_ratio: round(s.compressionRatio ?? 0, 6),
    no_speech_prob: round(s.noSpeechProb, 6),
  }));
}

function openaiWords(segments: readonly Segment[]): OpenAIWord[] {
  return segments.flatMap((s) => s.words ?? []).map((w) => ({ word: w.text.trim(), start: w.start, end: w.end })).filter((w) => w.word !== '');
}

/** Whisper's segments as subtitle cues, one each (OpenAI's srt and vtt). */
function cues(segments: readonly Segment[]) {
  return segments
    .filter((s) => s.text.trim() !== '')
    .map((s) => ({ start: Math.round(s.start * 1000), end: Math.round(Math.max(s.end, s.start) * 1000), lines: [s.text.trim()] }));
}

export interface FormattedAnswer {
  contentType: string;
  body: string | object;
}

export function formatResult(result: AudioResult, request: AudioRequest): FormattedAnswer {
  switch (request.responseFormat) {
    case 'text':
      return { contentType: 'text/plain; charset=utf-8', body: `${result.text}\n` };
    case 'srt':
      return { contentType: 'text/plain; charset=utf-8', body: writeSrt(cues(result.segments)) };
    case 'vtt':
      return { contentType: 'text/vtt; charset=utf-8', body: writeVtt(cues(result.segments)) };
    case 'verbose_json': {
      const body: Record<string, unknown> = {
        task: result.task,
        // OpenAI names the language of the text it returns: a translation's is English.
        language: languageName(result.task === 'translate' ? 'en' : result.language),
        duration: round(result.durationS, 3),
        text: result.text,
      };
      if (request.segments) body.segments = openaiSegments(result.segments);
      if (request.words) body.words = openaiWords(result.segments);
      if (result.task === 'transcribe') body.usage = usage(result.durationS);
      return { contentType: 'application/json; charset=utf-8', body };
    }
    case 'json':
    default:
      return {
        contentType: 'application/json; charset=utf-8',
        body: result.task === 'transcribe' ? { text: result.text, usage: usage(result.durationS) } : { text: result.text },
      };
  }
}

/** One server-sent event: a JSON object on a `data:` line (OpenAI's streams name no event type). */
export function sseEvent(data: object, event?: string): string {
  return `${event === undefined ? '' : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`;
}

export function deltaEvent(delta: string): string {
  return sseEvent({ type: 'transcript.text.delta', delta });
}

export function doneEvent(text: string): string {
  return sseEvent({ type: 'transcript.text.done', text });
}
