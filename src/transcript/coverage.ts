/**
 * Where the transcript says nothing but the speaker turns say someone spoke (issue 17): far-field
 * meeting speech that the recogniser's windows dropped ("yeah", a few words between silences).
 * Pure: turns and segments in, the spans worth a second look out.
 */
import type { LongformSegment } from './segments.js';
import type { SpeakerTurn } from './speakers.js';

export interface Span {
  /** ms */
  start: number;
  end: number;
}

export interface UncoveredOptions {
  /** Turns shorter than this are not looked at again (ms). */
  minTurnMs: number;
  /** A turn counts as covered when segments overlap at least this share of it. */
  coveredShare: number;
  /** Added before and after each span (ms), clipped to [0, mediaMs]. */
  padMs: number;
  /** Spans closer than this are looked at together (ms). */
  joinGapMs: number;
  /** Longest span (ms); longer ones are cut. */
  maxSpanMs: number;
  /** Most audio looked at again, as a share of the media: bounds the cost of a second look. */
  maxShare: number;
  /**
   * ...but never less than this (ms): on a 14 s clip a quarter is 3.5 s, shorter than one lost
   * turn; on long media the share is what bounds the cost.
   */
  minBudgetMs: number;
  mediaMs: number;
}

export const DEFAULT_UNCOVERED: Omit<UncoveredOptions, 'mediaMs'> = {
  minTurnMs: 300,
  coveredShare: 0.5,
  padMs: 250,
  joinGapMs: 500,
  maxSpanMs: 30_000,
  maxShare: 0.25,
  minBudgetMs: 10_000,
};

function overlap(a: Span, segments: readonly Span[]): number {
  let total = 0;
  for (const s of segments) total += Math.max(0, Math.min(a.end, s.end) - Math.max(a.start, s.start));
  return total;
}

/**
 * Where a segment's words are: Whisper often stretches the last segment of a window to the
 * window's end after its words stop (a two-speaker mix whose recognition stopped at 9.8 s of 14
 * had a segment to 14.0 s), so segment times would count the unheard rest as covered.
 */
function heardSpan(s: LongformSegment): Span {
  return s.words.length > 0 ? { start: s.words[0][0], end: s.words[s.words.length - 1][1] } : { start: s.start, end: s.end };
}

/**
 * Spans of speaker turns the segments' words leave (mostly) uncovered, padded, joined when
 * close, cut to `maxSpanMs`, in time order; the longest turns first when the budget cannot take
 * them all.
 */
export function uncoveredSpans(segments: readonly LongformSegment[], turns: readonly SpeakerTurn[], o: UncoveredOptions): Span[] {
  const covered = segments.map(heardSpan);
  const candidates = turns
    .filter((t) => t.end - t.start >= o.minTurnMs)
    .filter((t) => overlap(t, covered) < o.coveredShare * (t.end - t.start))
    .map((t) => ({ start: Math.max(0, t.start - o.padMs), end: Math.min(o.mediaMs, t.end + o.padMs) }))
    .sort((a, b) => a.start - b.start);
  const joined: Span[] = [];
  for (const c of candidates) {
    const last = joined.at(-1);
    if (last !== undefined && c.start - last.end <= o.joinGapMs && c.end - last.start <= o.maxSpanMs) last.end = Math.max(last.end, c.end);
    else if (last !== undefined && c.start < last.end) last.end = Math.max(last.end, Math.min(c.end, last.start + o.maxSpanMs));
    else joined.push({ ...c });
  }
  const cut = joined.flatMap((s) => {
    const parts: Span[] = [];
    for (let a = s.start; a < s.end; a += o.maxSpanMs) parts.push({ start: a, end: Math.min(s.end, a + o.maxSpanMs) });
    return parts;
  });
  let budget = Math.max(o.maxShare * o.mediaMs, o.minBudgetMs);
  const kept = new Set<Span>();
  for (const s of [...cut].sort((a, b) => b.end - b.start - (a.end - a.start))) {
    if (s.end - s.start > budget) continue;
    budget -= s.end - s.start;
    kept.add(s);
  }
  return cut.filter((s) => kept.has(s));
}
