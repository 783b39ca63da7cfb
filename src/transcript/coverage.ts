/**
 * Where the transcript says nothing but speaker turns or VAD say someone spoke (issue 17):
 * far-field meeting speech that the recogniser's windows dropped ("yeah", a few words between
 * silences), or a sentence a window's search ended before. Pure: spans of speech and segments
 * in, the spans worth a second look out.
 */
import type { LongformSegment } from './segments.js';

export interface Span {
  /** ms */
  start: number;
  end: number;
}

export interface UncoveredOptions {
  /** Speech (turns, utterances) shorter than this is not looked at again (ms). */
  minTurnMs: number;
  /**
   * What is looked at is the part of a turn that no words cover (decoding the covered part again
   * repeats what the first pass did: a search that stopped there stops there again). In a turn
   * the words cover less than this share of, every such part of at least `minTurnMs`...
   */
  coveredShare: number;
  /**
   * ...and in a turn covered more, only parts this long (ms): a window's search that ended
   * before the last sentence of a long utterance leaves that sentence as one. Long, because
   * Whisper's first and last word times are often off by most of a second.
   */
  minRemainderMs: number;
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
  minRemainderMs: 1500,
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

/** The parts of `a` that none of `covered` overlaps, in order. */
function remainders(a: Span, covered: readonly Span[]): Span[] {
  let parts: Span[] = [{ ...a }];
  for (const c of covered) {
    if (c.end <= a.start || c.start >= a.end) continue;
    parts = parts.flatMap((p) => [
      ...(c.start > p.start ? [{ start: p.start, end: Math.min(p.end, c.start) }] : []),
      ...(c.end < p.end ? [{ start: Math.max(p.start, c.end), end: p.end }] : []),
    ]).filter((p) => p.end > p.start);
  }
  return parts;
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
 * The parts of speech (speaker turns, VAD utterances) the segments' words leave uncovered (see
 * `coveredShare`), padded, joined when close, cut to `maxSpanMs`, in time order; the longest
 * first when the budget cannot take them all.
 */
export function uncoveredSpans(segments: readonly LongformSegment[], speech: readonly Span[], o: UncoveredOptions): Span[] {
  const covered = segments.map(heardSpan);
  const candidates = speech
    .filter((t) => t.end - t.start >= o.minTurnMs)
    .flatMap((t) => {
      const least = overlap(t, covered) < o.coveredShare * (t.end - t.start) ? o.minTurnMs : o.minRemainderMs;
      return remainders(t, covered).filter((r) => r.end - r.start >= least);
    })
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
