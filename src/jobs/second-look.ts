/**
 * A second look at speech the recogniser returned nothing for (issue 17). Long-form recognition
 * hears the audio through Silero VAD's windows; far-field meeting speech (short turns between
 * silences, a quiet voice across the table) can fall below the VAD, so a whole window, or a whole
 * file, comes back empty while the diarizer's segmentation model, trained on meetings, marks
 * speakers there. And where VAD did hear speech, a window's search can end (end of text) before
 * its last sentence, which is then lost. Each speaker turn or VAD utterance the segments' words
 * leave uncovered is decoded alone, with a little context around it, and what passes the
 * plausibility check joins the transcript.
 *
 * Bounded: at most `maxShare` of the media is looked at again (the longest uncovered turns
 * first), one span in memory at a time, from one ffmpeg pass over the file.
 */
import { SAMPLE_RATE } from '../audio.js';
import { streamPcm } from '../media/pcm-stream.js';
import type { SpeechEngine, Transcript } from '../speech/engine.js';
import { DEFAULT_UNCOVERED, uncoveredSpans, type Span } from '../transcript/coverage.js';
import { segmentsFromWindow, type ClovaWord, type LongformSegment } from '../transcript/segments.js';
import { SEGMENT_PAUSE_S, segmentFinisher, transcribeWhenFree, type RecognizeRequest } from './recognize.js';

/**
 * What a second look must show to be kept. A window of silence or noise decoded alone is where
 * Whisper invents text; these are its own signs of it (faster-whisper's thresholds), applied to
 * every segment of the span: a decoder that was not confident, or that thought nothing was said.
 */
const MIN_AVG_LOG_PROB = -1;
const MAX_NO_SPEECH_PROB = 0.6;

export function plausible(transcript: Transcript): boolean {
  if (!/[\p{L}\p{N}]/u.test(transcript.text)) return false;
  return transcript.segments.every((s) => s.avgLogProb >= MIN_AVG_LOG_PROB && s.noSpeechProb <= MAX_NO_SPEECH_PROB);
}

/**
 * A word the second look heard again: a span is padded with context, so Whisper often re-decodes
 * a word of the first pass at its edge ("Yeah." twice, 0.5 s apart). Timings of a word decoded
 * from a short span are loose, so a repeat is a word that shares most of the shorter one's time
 * with a first-pass word, or has the same text and lies within a moment of it.
 */
const REPEAT_OVERLAP = 0.5;
const REPEAT_NEAR_MS = 300;

const wordKey = (text: string): string => text.toLocaleLowerCase().replace(/[^\p{L}\p{N}]/gu, '');

function isRepeat(start: number, end: number, text: string, heard: readonly ClovaWord[]): boolean {
  const key = wordKey(text);
  return heard.some(([hs, he, ht]) => {
    const shared = Math.min(end, he) - Math.max(start, hs);
    const shorter = Math.max(1, Math.min(end - start, he - hs));
    if (shared >= REPEAT_OVERLAP * shorter) return true;
    return key !== '' && key === wordKey(ht) && start - he <= REPEAT_NEAR_MS && hs - end <= REPEAT_NEAR_MS;
  });
}

/**
 * `transcript` (decoded from audio starting at `offsetMs`) without the words the first pass
 * already heard; its text is rebuilt from the words left.
 */
export function withoutRepeats(transcript: Transcript, offsetMs: number, heard: readonly ClovaWord[]): Transcript {
  const words = transcript.segments.flatMap((s) => s.words ?? []);
  if (words.length === 0 || heard.length === 0) return transcript;
  const at = (s: number): number => offsetMs + s * 1000;
  // Only first-pass words near this span can be repeated in it (`heard` is the whole file's).
  const from = at(Math.min(...words.map((w) => w.start))) - REPEAT_NEAR_MS;
  const to = at(Math.max(...words.map((w) => w.end))) + REPEAT_NEAR_MS;
  const near = heard.filter(([hs, he]) => he >= from && hs <= to);
  const segments = transcript.segments.map((s) => ({ ...s, words: (s.words ?? []).filter((w) => !isRepeat(at(w.start), at(w.end), w.text, near)) }));
  const text = segments.flatMap((s) => s.words).map((w) => w.text).join('');
  return { ...transcript, text, segments: segments.map((s) => ({ ...s, text: s.words.map((w) => w.text).join('') })) };
}

export interface SecondLookRequest extends Pick<RecognizeRequest, 'mediaPath' | 'language' | 'script' | 'keywords' | 'mask' | 'tools'> {
  mediaMs: number;
}

export interface SecondLookOutcome {
  /** New segments, in time order (to be merged with the first pass's). */
  segments: LongformSegment[];
  /** Spans looked at again and how many of them gave text. */
  spans: number;
  kept: number;
}

const samplesOf = (ms: number): number => Math.round((ms / 1000) * SAMPLE_RATE);

/**
 * Each span's PCM, in order, cut from `chunks` (the media's PCM from its start, as streamPcm
 * yields it); stops reading after the last span. Holds at most the audio from the next span's
 * start on.
 */
export async function* spanAudio(chunks: AsyncIterable<Float32Array>, spans: readonly Span[]): AsyncGenerator<{ span: Span; pcm: Float32Array }> {
  let i = 0;
  let buf = new Float32Array(0);
  /** Media sample index of buf[0]. */
  let bufStart = 0;
  for await (const chunk of chunks) {
    const next = new Float32Array(buf.length + chunk.length);
    next.set(buf);
    next.set(chunk, buf.length);
    buf = next;
    while (i < spans.length && bufStart + buf.length >= samplesOf(spans[i].end)) {
      const a = samplesOf(spans[i].start) - bufStart;
      const b = samplesOf(spans[i].end) - bufStart;
      yield { span: spans[i], pcm: buf.slice(Math.max(0, a), b) };
      i++;
    }
    if (i >= spans.length) return;
    // Keep only what a later span can still need; never drop past what was received, or the
    // next chunk would be taken for later audio than it is.
    const keepFrom = Math.min(buf.length, Math.max(0, samplesOf(spans[i].start) - bufStart));
    buf = buf.slice(keepFrom);
    bufStart += keepFrom;
  }
  // The media ended early (its duration was an estimate): the last spans get what there is.
  for (; i < spans.length; i++) {
    const a = samplesOf(spans[i].start) - bufStart;
    if (a < buf.length) yield { span: spans[i], pcm: buf.slice(Math.max(0, a)) };
  }
}

export async function secondLook(
  engine: SpeechEngine,
  req: SecondLookRequest,
  segments: readonly LongformSegment[],
  /** Where someone spoke: speaker turns and VAD utterances (they may overlap). */
  spoken: readonly Span[],
  signal?: AbortSignal,
): Promise<SecondLookOutcome> {
  const spans = uncoveredSpans(segments, spoken, { ...DEFAULT_UNCOVERED, mediaMs: req.mediaMs });
  if (spans.length === 0) return { segments: [], spans: 0, kept: 0 };
  const finish = segmentFinisher(req);
  const heard = segments.flatMap((s) => s.words);
  const out: LongformSegment[] = [];
  let kept = 0;
  for await (const { span, pcm } of spanAudio(streamPcm(req.mediaPath, { ...req.tools, signal }), spans)) {
    if (pcm.length === 0) continue;
    const decoded = await transcribeWhenFree(engine, pcm, req, signal);
    if (!plausible(decoded)) continue;
    const transcript = withoutRepeats(decoded, span.start, heard);
    const start = samplesOf(span.start);
    const window = { start, end: start + pcm.length, speech: [{ start, end: start + pcm.length }] };
    const found = segmentsFromWindow(window, transcript, SEGMENT_PAUSE_S).map(finish);
    if (found.length > 0) kept++;
    out.push(...found);
  }
  return { segments: out, spans: spans.length, kept };
}
