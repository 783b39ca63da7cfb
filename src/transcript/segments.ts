/**
 * Turns the engine's output for one recognition window into CLOVA long-form segments: one per
 * utterance, where an utterance ends at a pause VAD measured (more reliable than word timings
 * from cross-attention), with words as [start, end, text] in integer ms from the media start.
 */
import type { Transcript, WordTiming } from '../speech/engine.js';
import type { SpeechSegment } from '../speech/vad/silero.js';
import { SAMPLE_RATE as SR, samplesToMs } from '../audio.js';

export type ClovaWord = [number, number, string];

export interface LongformSegment {
  start: number;
  end: number;
  text: string;
  confidence: number;
  words: ClovaWord[];
  /** Diarization label ("1", "2", ...), once speakers are assigned. */
  speaker?: string;
}

export interface WindowSpan {
  /** Absolute sample offsets. */
  start: number;
  end: number;
  speech: SpeechSegment[];
}

/** Speech stretches separated by pauses of at least `longPauseS`. */
export function utterances(speech: readonly SpeechSegment[], longPauseS: number): SpeechSegment[] {
  const out: SpeechSegment[] = [];
  for (const s of speech) {
    const last = out[out.length - 1];
    if (last !== undefined && s.start - last.end < longPauseS * SR) last.end = Math.max(last.end, s.end);
    else out.push({ ...s });
  }
  return out;
}

export function segmentsFromWindow(window: WindowSpan, transcript: Transcript, longPauseS: number): LongformSegment[] {
  const offsetS = window.start / SR;
  const words: WordTiming[] = transcript.segments.flatMap((s) => s.words ?? []);
  const text = transcript.text.trim();
  if (text === '') return [];
  if (words.length === 0) {
    // No word timings (a model export without cross-attention): the window is one segment.
    const lp = transcript.segments.map((s) => s.avgLogProb);
    const confidence = lp.length > 0 ? Math.exp(lp.reduce((a, b) => a + b, 0) / lp.length) : 0;
    return [{ start: samplesToMs(window.start), end: samplesToMs(window.end), text, confidence: round4(confidence), words: [] }];
  }
  const groups = utterances(window.speech.length > 0 ? window.speech : [{ start: window.start, end: window.end }], longPauseS);
  const byGroup: WordTiming[][] = groups.map(() => []);
  for (const w of words) {
    const mid = (offsetS + (w.start + w.end) / 2) * SR;
    let best = 0;
    let bestDistance = Infinity;
    groups.forEach((g, i) => {
      const d = mid < g.start ? g.start - mid : mid > g.end ? mid - g.end : 0;
      if (d < bestDistance) {
        bestDistance = d;
        best = i;
      }
    });
    byGroup[best].push(w);
  }
  const out: LongformSegment[] = [];
  groups.forEach((g, i) => {
    const ws = byGroup[i];
    // Word texts keep their leading spaces, so joining them restores the decoded spacing.
    const segText = ws.map((w) => w.text).join('').trim();
    if (segText === '') return;
    const start = samplesToMs(g.start);
    const end = samplesToMs(g.end);
    const clovaWords: ClovaWord[] = [];
    for (const w of ws) {
      const t = w.text.trim();
      if (t === '') continue;
      // Word timings may stray a little outside the VAD bounds: keep them inside their segment.
      const ws0 = Math.min(Math.max(Math.round((offsetS + w.start) * 1000), start), end);
      const we = Math.min(Math.max(Math.round((offsetS + w.end) * 1000), ws0), end);
      clovaWords.push([ws0, we, t]);
    }
    const confidence = ws.reduce((a, w) => a + w.probability, 0) / ws.length;
    out.push({ start, end, text: segText, confidence: round4(confidence), words: clovaWords });
  });
  return out;
}

/**
 * Segments in time order kept apart: where two overlap (a segment's times span its VAD
 * utterance or its speaker's turns, which can reach into the next one's), the boundary goes to
 * the middle of the overlap, never inside either's words.
 */
export function keptApart(segments: readonly LongformSegment[]): LongformSegment[] {
  const out = [...segments];
  for (let i = 1; i < out.length; i++) {
    const a = out[i - 1];
    const b = out[i];
    if (a.end <= b.start) continue;
    const lo = a.words.length > 0 ? a.words[a.words.length - 1][1] : a.start;
    const hi = b.words.length > 0 ? b.words[0][0] : b.end;
    const cut = Math.min(Math.max((a.end + b.start) / 2, lo), Math.max(lo, hi));
    out[i - 1] = { ...a, end: Math.max(a.start, Math.round(cut)) };
    out[i] = { ...b, start: Math.min(Math.round(cut), hi) };
  }
  return out;
}

export function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}
