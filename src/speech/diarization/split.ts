/**
 * One local speaker that is two people. On far-field meeting audio the segmentation model now
 * and then gives two voices one local speaker for a whole window (an AMI excerpt: 12-22 s as
 * one speaker while two people took turns), and one embedding of that mix matches neither, so
 * clustering merges the two people. The partials a local speaker's embedding is averaged from
 * are spread over its speech: when they fall into two groups far apart, the speaker is split,
 * each frame going to the group of the partial spoken nearest to it.
 */
import { normalize } from './embedding.js';

/**
 * Group (0 or 1) of each of `count` partial embeddings (rows of `rows`), or null when they are
 * one voice: average-linkage clustering down to two groups, kept apart only when the mean cosine
 * distance between them is above `threshold`.
 */
export function splitPartials(rows: Float32Array, count: number, threshold: number): Uint8Array | null {
  if (count < 2) return null;
  const dim = rows.length / count;
  const unit = Array.from({ length: count }, (_, i) => normalize(rows.slice(i * dim, (i + 1) * dim)));
  const dist = (i: number, j: number): number => {
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += unit[i][d] * unit[j][d];
    return 1 - dot;
  };
  let groups: number[][] = unit.map((_, i) => [i]);
  const between = (a: number[], b: number[]): number => {
    let s = 0;
    for (const i of a) for (const j of b) s += dist(i, j);
    return s / (a.length * b.length);
  };
  while (groups.length > 2) {
    let best = [0, 1];
    let bestD = Infinity;
    for (let a = 0; a < groups.length; a++) {
      for (let b = a + 1; b < groups.length; b++) {
        const d = between(groups[a], groups[b]);
        if (d < bestD) {
          bestD = d;
          best = [a, b];
        }
      }
    }
    groups[best[0]] = [...groups[best[0]], ...groups[best[1]]];
    groups = groups.filter((_, g) => g !== best[1]);
  }
  if (between(groups[0], groups[1]) <= threshold) return null;
  const labels = new Uint8Array(count);
  for (const i of groups[1]) labels[i] = 1;
  return labels;
}

/** Frame runs [start, end) from a per-frame mask. */
export function maskRuns(mask: Uint8Array): Uint16Array {
  const runs: number[] = [];
  let start = -1;
  for (let f = 0; f <= mask.length; f++) {
    const on = f < mask.length && mask[f] !== 0;
    if (on && start < 0) start = f;
    else if (!on && start >= 0) {
      runs.push(start, f);
      start = -1;
    }
  }
  return Uint16Array.from(runs);
}

/**
 * `runs` (one local speaker's frames) divided between two groups: each frame goes to the group
 * of the nearest partial centre (`centres`: frame of each partial's middle, `labels`: its group).
 */
export function divideRuns(runs: Uint16Array, frames: number, centres: readonly number[], labels: Uint8Array): [Uint16Array, Uint16Array] {
  const masks = [new Uint8Array(frames), new Uint8Array(frames)];
  for (let i = 0; i < runs.length; i += 2) {
    for (let f = runs[i]; f < runs[i + 1]; f++) {
      let best = 0;
      for (let p = 1; p < centres.length; p++) if (Math.abs(centres[p] - f) < Math.abs(centres[best] - f)) best = p;
      masks[labels[best]][f] = 1;
    }
  }
  return [maskRuns(masks[0]), maskRuns(masks[1])];
}
