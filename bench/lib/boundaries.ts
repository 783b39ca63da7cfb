/**
 * Utterance boundary recall of long-form output, against the per-utterance reference of a
 * joined file (manifest `segments`). Pure functions, seconds throughout.
 *
 * A reference boundary between utterances k and k+1 is the interval [end_k, start_k+1] (the
 * pause between them, edges included). An output gap is the interval [seg_i.end, seg_i+1.start]
 * between two consecutive output segments (sorted by start). The boundary is found when some
 * output gap lies within `toleranceS` of it: interval distance
 *   max(0, gap.start - boundary.end, boundary.start - gap.end) <= toleranceS.
 * Overlapping intervals have distance 0. One output gap may serve more than one reference
 * boundary (the definition is per boundary); `unmatchedGaps` counts output gaps near no
 * reference boundary at all (extra splits), as an indication of over-segmentation.
 */

export interface TimeSpan {
  start: number;
  end: number;
}

export interface BoundaryMatch {
  /** Index k: the boundary between reference utterances k and k+1. */
  index: number;
  boundary: TimeSpan;
  /** The nearest output gap, if there is any gap at all. */
  nearest: TimeSpan | null;
  /** Interval distance to the nearest gap, seconds (Infinity without gaps). */
  distanceS: number;
  found: boolean;
}

export interface BoundaryRecall {
  boundaries: number;
  found: number;
  /** found / boundaries; NaN when the reference has a single utterance. */
  recall: number;
  outputGaps: number;
  /** Output gaps farther than the tolerance from every reference boundary. */
  unmatchedGaps: number;
  toleranceS: number;
  matches: BoundaryMatch[];
}

/** Distance between two closed intervals; 0 when they touch or overlap. */
export function intervalDistance(a: TimeSpan, b: TimeSpan): number {
  return Math.max(0, a.start - b.end, b.start - a.end);
}

/** The pauses between consecutive spans, after sorting by start (then end). */
export function gapsBetween(spans: readonly TimeSpan[]): TimeSpan[] {
  const sorted = [...spans].sort((x, y) => x.start - y.start || x.end - y.end);
  const out: TimeSpan[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    // Overlapping or touching neighbours still have a boundary between them: a zero-length (or
    // inverted) gap is kept as the point/interval between the two, ordered.
    const a = sorted[i].end;
    const b = sorted[i + 1].start;
    out.push({ start: Math.min(a, b), end: Math.max(a, b) });
  }
  return out;
}

export function boundaryRecall(reference: readonly TimeSpan[], output: readonly TimeSpan[], toleranceS = 0.3): BoundaryRecall {
  const refBoundaries = gapsBetween(reference);
  const gaps = gapsBetween(output);
  const matches: BoundaryMatch[] = refBoundaries.map((boundary, index) => {
    let nearest: TimeSpan | null = null;
    let distanceS = Infinity;
    for (const g of gaps) {
      const d = intervalDistance(boundary, g);
      if (d < distanceS) {
        distanceS = d;
        nearest = g;
      }
    }
    // A small epsilon: times come as ms integers and as decimal seconds (0.3 is not exact).
    return { index, boundary, nearest, distanceS, found: distanceS <= toleranceS + 1e-9 };
  });
  const found = matches.filter((m) => m.found).length;
  const unmatchedGaps = gaps.filter((g) => !refBoundaries.some((b) => intervalDistance(b, g) <= toleranceS + 1e-9)).length;
  return {
    boundaries: refBoundaries.length,
    found,
    recall: refBoundaries.length > 0 ? found / refBoundaries.length : NaN,
    outputGaps: gaps.length,
    unmatchedGaps,
    toleranceS,
    matches,
  };
}

/** CLOVA segments (integer ms) as spans in seconds. */
export function spansFromMs(segments: readonly { start: number; end: number }[]): TimeSpan[] {
  return segments.map((s) => ({ start: s.start / 1000, end: s.end / 1000 }));
}
