/**
 * Clustering and reconstruction over analysed windows: the part of diarization that needs the
 * whole file, run once at the end.
 */
import type { WindowResult } from './types.js';
import { assignWindow, centroids, clusterEmbeddings, type ClusteringParams, type SpeakerBounds } from './clustering.js';
import { dequantize } from './embedding.js';
import { assignMaxScore } from './hungarian.js';
import { Reconstructor, type ReconstructParams, type Turn } from './reconstruct.js';
import { FRAMES_PER_WINDOW } from './segmentation.js';

export interface PipelineParams extends ClusteringParams, ReconstructParams {
  /**
   * Bound on the agglomerative clustering: at most this many embeddings (its distance matrix is
   * n^2 float32, 16 MB at 2000, and time grows as n^2). Beyond it the embeddings of every n-th
   * window are clustered and all the others are assigned to the nearest centroid. At the default
   * 2 s step, every other window embedded, a two-party recording yields about 0.5 embeddings per
   * second, so 2000 cover about an hour before thinning starts, plenty to find each speaker.
   */
  maxClusterEmbeddings: number;
  /** Two local speakers of one window go to different clusters (when there are enough). */
  distinctInWindow: boolean;
  /** See CannotLink.ratio; 0 disables the constraint. */
  cannotLinkRatio: number;
  /** See stitchWindows(); above 1, stitching is off. */
  minStitchOverlap: number;
}

export function diarizeWindows(
  windows: readonly WindowResult[],
  stepFrames: number,
  totalSamples: number,
  p: PipelineParams,
  bounds: SpeakerBounds,
): Turn[] {
  const sample = clusteringSample(windows, p.maxClusterEmbeddings);
  const x = sample.map(({ w, k }) => dequantize(windows[w].embeddings[k] as Int8Array));
  // Local speakers of one window are different people, as far as the segmentation can tell.
  const pairs: [number, number][] = [];
  for (let i = 0; i < sample.length; i++) {
    for (let j = i + 1; j < sample.length && sample[j].w === sample[i].w; j++) pairs.push([i, j]);
  }
  const labels = clusterEmbeddings(x, p, bounds, p.cannotLinkRatio > 0 ? { pairs, ratio: p.cannotLinkRatio } : undefined);
  const k = labels.length > 0 ? Math.max(...labels) + 1 : 0;
  const cents = centroids(x, labels, k);

  // With no embedding at all (speech too short everywhere), what speech there is is one speaker.
  const clustersOf = windows.map((win) => {
    const clusters: number[] = win.runs.map(() => (k === 0 ? 0 : -1));
    if (k > 0) {
      const ks = win.embeddings.flatMap((e, i) => (e ? [i] : []));
      const assigned = assignWindow(ks.map((i) => dequantize(win.embeddings[i] as Int8Array)), cents, p.distinctInWindow);
      ks.forEach((i, j) => {
        clusters[i] = assigned[j];
      });
    }
    return clusters;
  });
  if (k > 0) stitchWindows(windows, clustersOf, stepFrames, p.distinctInWindow, p.minStitchOverlap);
  const reconstruct = (favour?: Set<number>): { turns: Turn[]; heard: Set<number> } => {
    const rec = new Reconstructor(stepFrames, Math.max(1, k), bounds.max, totalSamples, p, favour);
    windows.forEach((win, w) => rec.add(w, { runs: win.runs, clusters: clustersOf[w] }));
    const turns = rec.finish();
    return { turns, heard: rec.heard };
  };
  const first = reconstruct();
  if (first.heard.size >= bounds.min || k <= first.heard.size) return first.turns;
  // A forced minimum count: clusters outvoted everywhere get a second chance (cheap: the windows
  // are kept anyway, only the frame votes are recounted).
  const missing = new Set(Array.from({ length: k }, (_, c) => c).filter((c) => !first.heard.has(c)));
  return reconstruct(missing).turns;
}

/**
 * The embeddings that go through agglomerative clustering: all of them up to `max`, else those
 * of every n-th window (n as small as fits). Whole windows rather than single embeddings, so the
 * cannot-link pairs (same window) survive the thinning; evenly spaced, so every part of the
 * recording is represented and the result is deterministic.
 */
export function clusteringSample(windows: readonly WindowResult[], max: number): { w: number; k: number }[] {
  const perWindow = windows.map((win) => win.embeddings.filter((e) => e !== null).length);
  const total = perWindow.reduce((a, n) => a + n, 0);
  let stride = Math.max(1, Math.ceil(total / max));
  const countAt = (s: number): number => perWindow.reduce((a, n, w) => a + (w % s === 0 ? n : 0), 0);
  while (countAt(stride) > max) stride++;
  const out: { w: number; k: number }[] = [];
  windows.forEach((win, w) => {
    if (w % stride !== 0) return;
    win.embeddings.forEach((e, k) => {
      if (e) out.push({ w, k });
    });
  });
  return out;
}

/** Frames active in both run lists, `b` shifted by `shift` frames (b's frame f is a's f + shift). */
export function coActiveFrames(a: Uint16Array, b: Uint16Array, shift: number): number {
  let n = 0;
  let j = 0;
  for (let i = 0; i < a.length; i += 2) {
    const a0 = a[i];
    const a1 = a[i + 1];
    while (j < b.length && b[j + 1] + shift <= a0) j += 2;
    for (let q = j; q < b.length && b[q] + shift < a1; q += 2) {
      n += Math.max(0, Math.min(a1, b[q + 1] + shift) - Math.max(a0, b[q] + shift));
    }
  }
  return n;
}

/**
 * Clusters for local speakers without an embedding (a window that was not embedded, or too
 * little speech), from the overlapping windows whose local speakers were clustered by their
 * embeddings: speaker s of window w takes the cluster whose embedded local speakers were active
 * on the most of the same frames (summed over every overlapping window), as streaming
 * diarization stitches consecutive chunks. Two local speakers of one window get different
 * clusters (Hungarian), also different from the window's embedded ones with `distinct`. A speaker
 * whose best agreement is under `minOverlap` of its own active frames stays unassigned (-1): its
 * frames still count speakers but vote for no cluster. Only embedded speakers are sources, so no
 * error propagates along a chain of stitched windows; `clusters` is updated in place. Work is
 * per window and its neighbours: linear in the number of windows.
 */
export function stitchWindows(
  windows: readonly WindowResult[],
  clusters: number[][],
  stepFrames: number,
  distinct: boolean,
  minOverlap: number,
): void {
  if (minOverlap > 1) return;
  const reach = Math.ceil(FRAMES_PER_WINDOW / stepFrames) - 1;
  windows.forEach((win, w) => {
    const todo = win.runs.flatMap((r, s) => (r.length > 0 && clusters[w][s] < 0 && win.embeddings[s] === null ? [s] : []));
    if (todo.length === 0) return;
    const score = new Map<number, number[]>();
    // Each speaker's frames inside the source windows, counted per window like the scores.
    const seen = new Array<number>(todo.length).fill(0);
    const whole = Uint16Array.of(0, FRAMES_PER_WINDOW);
    for (let n = Math.max(0, w - reach); n <= Math.min(windows.length - 1, w + reach); n++) {
      if (n === w) continue;
      const other = windows[n];
      const shift = (n - w) * stepFrames;
      if (!other.embeddings.some((e, t) => e !== null && clusters[n][t] >= 0)) continue;
      todo.forEach((s, i) => {
        seen[i] += coActiveFrames(win.runs[s], whole, shift);
      });
      other.runs.forEach((r, t) => {
        const c = clusters[n][t];
        if (c < 0 || other.embeddings[t] === null || r.length === 0) return;
        const row = score.get(c) ?? new Array<number>(todo.length).fill(0);
        todo.forEach((s, i) => {
          row[i] += coActiveFrames(win.runs[s], r, shift);
        });
        score.set(c, row);
      });
    }
    const taken = new Set(distinct ? clusters[w].filter((c, s) => c >= 0 && win.embeddings[s] !== null) : []);
    const cands = [...score.keys()].filter((c) => !taken.has(c)).sort((a, b) => a - b);
    if (cands.length === 0) return;
    // Agreement as a fraction of the speaker's frames that the source windows saw.
    const sims = todo.map((_, i) => cands.map((c) => (score.get(c) as number[])[i] / Math.max(1, seen[i])));
    const picked = assignMaxScore(sims);
    todo.forEach((s, i) => {
      const j = picked[i];
      if (j >= 0 && sims[i][j] >= minOverlap) clusters[w][s] = cands[j];
    });
  });
}
