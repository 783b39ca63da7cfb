/**
 * From one 30 s window's decoded tokens to the engine's segments, with no model in sight: where
 * timestamp tokens cut the window into segments and how far the seek loop moves on
 * (splitAtTimestamps), which tokens word alignment is given (alignmentTokens), which segment
 * each aligned word belongs to (wordsBySegment), and the `Segment`s and `Transcript` the engine
 * returns (windowSegments, transcriptOf).
 */
import type { Segment, Transcript, WordTiming } from '../engine.js';
import type { AlignedWord } from './alignment.js';
import { HOP, SAMPLE_RATE } from './features.js';

export const SECONDS_PER_TIMESTAMP = 0.02;
/** Mel frames per timestamp step. */
export const FRAMES_PER_TIMESTAMP = 2;

/** A segment of one window: absolute times (s), its tokens (timestamps included), their log-probabilities. */
export interface WindowSegment {
  start: number;
  end: number;
  tokens: number[];
  logprobs: number[];
}

/** An aligned word and the index of the window segment it belongs to. */
export interface SegmentWord {
  seg: number;
  word: WordTiming;
}

/**
 * Whisper's cut of a window's tokens: a segment ends at every pair of consecutive timestamp
 * tokens. With at least one pair, the seek moves to the last pair's time, or over the whole
 * window when the tokens end on a single timestamp (the last segment is complete); without one,
 * the window is a single segment, up to its last timestamp if there is one, and the seek moves
 * over the whole window. `segmentFrames`: the window's frames of audio; `offsetS`: its start.
 */
export function splitAtTimestamps(
  tokens: number[], logprobs: number[], timestampBegin: number, offsetS: number, segmentFrames: number,
): { segments: WindowSegment[]; seekFrames: number } {
  const isTimestamp = tokens.map((t) => t >= timestampBegin);
  const singleTimestampEnding = tokens.length >= 2 && !isTimestamp[tokens.length - 2] && isTimestamp[tokens.length - 1];
  const cuts: number[] = [];
  for (let i = 1; i < tokens.length; i++) if (isTimestamp[i] && isTimestamp[i - 1]) cuts.push(i);
  if (cuts.length > 0) {
    if (singleTimestampEnding) cuts.push(tokens.length);
    const segments: WindowSegment[] = [];
    let last = 0;
    for (const cut of cuts) {
      const sliced = tokens.slice(last, cut);
      const startPos = sliced[0] - timestampBegin;
      const endPos = sliced[sliced.length - 1] - timestampBegin;
      segments.push({
        start: offsetS + startPos * SECONDS_PER_TIMESTAMP, end: offsetS + endPos * SECONDS_PER_TIMESTAMP,
        tokens: sliced, logprobs: logprobs.slice(last, cut),
      });
      last = cut;
    }
    const seekFrames = singleTimestampEnding ? segmentFrames : (tokens[last - 1] - timestampBegin) * FRAMES_PER_TIMESTAMP;
    return { segments, seekFrames };
  }
  let duration = (segmentFrames * HOP) / SAMPLE_RATE;
  const timestamps = tokens.filter((t) => t >= timestampBegin);
  const lastTimestamp = timestamps[timestamps.length - 1];
  if (timestamps.length > 0 && lastTimestamp !== timestampBegin) duration = (lastTimestamp - timestampBegin) * SECONDS_PER_TIMESTAMP;
  return { segments: [{ start: offsetS, end: offsetS + duration, tokens, logprobs }], seekFrames: segmentFrames };
}

/**
 * What word alignment is given for a window: each segment's text tokens (those below
 * end-of-text) and, for all of them in order, the probability the search gave each.
 */
export function alignmentTokens(segments: readonly WindowSegment[], eot: number): { perSegment: number[][]; probabilities: number[] } {
  const perSegment: number[][] = [];
  const probabilities: number[] = [];
  for (const s of segments) {
    const text: number[] = [];
    s.tokens.forEach((t, i) => {
      if (t >= eot) return;
      text.push(t);
      probabilities.push(Math.exp(s.logprobs[i] ?? 0));
    });
    perSegment.push(text);
  }
  return { perSegment, probabilities };
}

/**
 * Aligned words (window-relative times, `firstToken` an index into the window's text tokens) as
 * timed words of the segment holding their first token. Blank words are dropped; the text is left
 * untrimmed: a leading space says whether the word starts a new word ("64" ".5" "%" is one).
 */
export function wordsBySegment(aligned: readonly AlignedWord[], tokensPerSegment: readonly number[], offsetS: number): SegmentWord[] {
  const segmentStarts: number[] = [];
  let acc = 0;
  for (const n of tokensPerSegment) {
    segmentStarts.push(acc);
    acc += n;
  }
  return aligned.filter((w) => w.text.trim()).map((w) => {
    let seg = 0;
    while (seg + 1 < segmentStarts.length && segmentStarts[seg + 1] <= w.firstToken) seg++;
    return {
      seg,
      word: { text: w.text, start: round3(offsetS + w.start), end: round3(offsetS + w.end), probability: Math.round(w.probability * 1e4) / 1e4 },
    };
  });
}

/** How a window was decoded: its confidence and, with `decode`, the rest of what OpenAI's segments report. */
export interface WindowDecode {
  avgLogprob: number;
  noSpeechProb: number;
  decode?: { seek: number; temperature: number; compressionRatio: number };
}

/**
 * The engine's segments of one window: text decoded and trimmed (blank segments dropped), times
 * rounded to the millisecond and the end kept inside the audio, the window's confidence on each;
 * with `words` (word timings asked for), each segment's own words; with `window.decode`, each
 * segment's tokens and the window's seek, temperature and compression ratio.
 */
export function windowSegments(
  segments: readonly WindowSegment[],
  decodeText: (tokens: number[]) => string,
  window: WindowDecode,
  audioEndS: number,
  words: readonly SegmentWord[] | undefined,
): Segment[] {
  const out: Segment[] = [];
  segments.forEach((s, i) => {
    const text = decodeText(s.tokens);
    if (!text.trim()) return;
    const seg: Segment = {
      start: round3(s.start),
      end: round3(Math.min(s.end, audioEndS)),
      text: text.trim(),
      avgLogProb: window.avgLogprob,
      noSpeechProb: window.noSpeechProb,
    };
    if (words !== undefined) seg.words = words.filter((w) => w.seg === i).map((w) => w.word);
    if (window.decode !== undefined) {
      const { seek, temperature, compressionRatio } = window.decode;
      Object.assign(seg, { tokens: s.tokens, seek, temperature, compressionRatio: Math.round(compressionRatio * 1e4) / 1e4 });
    }
    out.push(seg);
  });
  return out;
}

/** The whole audio's transcript: its segments' texts joined by spaces. */
export function transcriptOf(segments: Segment[], language: string, durationS: number): Transcript {
  const text = segments.map((s) => s.text).join(' ').trim();
  return { text, language, segments, durationS };
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
