/**
 * Speaker clustering of (window, local speaker) embeddings, after pyannote's
 * AgglomerativeClustering: a full dendrogram, cut at a distance threshold, clusters smaller than
 * `minClusterSize` folded into the nearest large one, and the number of large clusters forced into
 * the caller's [min, max] by cutting the dendrogram elsewhere when needed.
 */
import { assignMaxScore } from './hungarian.js';
import { normalize } from './embedding.js';

export type Linkage = 'centroid' | 'average';

export interface ClusteringParams {
  /**
   * centroid: Euclidean distance between the means of unit vectors (pyannote's choice);
   * average: mean cosine distance between members.
   */
  linkage: Linkage;
  /** Merges above this distance are not made (unless a speaker count forces them). */
  threshold: number;
  /** Clusters with fewer members are noise: their members join the closest large cluster. */
  minClusterSize: number;
}

export interface SpeakerBounds {
  min: number;
  max: number;
}

export interface Dendrogram {
  /** Merge m joined the clusters held in slots a[m] and b[m]; the result stays in slot a[m]. */
  a: Int32Array;
  b: Int32Array;
  height: Float64Array;
}

/** Added to the distance of a pair of clusters that must not be merged (distances are <= 2). */
export const BLOCKED = 10;

export interface CannotLink {
  /** Index pairs (into the embeddings) known to be different speakers. */
  pairs: readonly (readonly [number, number])[];
  /**
   * Two clusters count as different speakers when their cannot-link pairs exceed this fraction
   * of the smaller cluster's size: a fraction, not "any", because the segmentation model now and
   * then splits one voice into two local speakers, and one such window must not keep two halves of
   * a speaker apart forever.
   */
  ratio: number;
}

/**
 * Agglomerative clustering with a full distance matrix (n^2 float32: 16 MB at n = 2000, which is
 * why callers bound n) and per-slot nearest neighbours, so a merge costs O(n) plus a rescan for
 * the slots whose neighbour changed, instead of the naive O(n^2) search per merge. Distances are
 * updated with the Lance-Williams formulas; centroid linkage works on squared distances there.
 * Blocked merges (cannot-link) still happen last, at heights above BLOCKED, so that the
 * dendrogram is complete and a caller's speaker count can still be forced.
 */
export function agglomerate(x: readonly Float32Array[], linkage: Linkage, cannot?: CannotLink): Dendrogram {
  const n = x.length;
  const d = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let dot = 0;
      const xi = x[i];
      const xj = x[j];
      for (let k = 0; k < xi.length; k++) dot += xi[k] * xj[k];
      // Unit vectors: squared Euclidean distance is 2 - 2cos; cosine distance is 1 - cos.
      const v = linkage === 'centroid' ? Math.max(0, 2 - 2 * dot) : 1 - dot;
      d[i * n + j] = v;
      d[j * n + i] = v;
    }
  }
  // Cannot-link counts between clusters; at most one per window, so 16 bits are plenty.
  const cl = cannot && cannot.pairs.length > 0 ? new Uint16Array(n * n) : undefined;
  if (cl && cannot) {
    for (const [i, j] of cannot.pairs) {
      if (i === j) continue;
      cl[i * n + j]++;
      cl[j * n + i]++;
    }
  }
  const ratio = cannot?.ratio ?? 1;
  const active = new Uint8Array(n).fill(1);
  const size = new Int32Array(n).fill(1);
  const eff = (i: number, j: number): number => {
    const v = d[i * n + j];
    return cl && cl[i * n + j] > ratio * Math.min(size[i], size[j]) ? v + BLOCKED : v;
  };
  const nn = new Int32Array(n).fill(-1);
  const nnD = new Float64Array(n).fill(Infinity);
  const rescan = (i: number): void => {
    let best = -1;
    let bd = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === i || !active[j]) continue;
      const v = eff(i, j);
      if (v < bd) {
        bd = v;
        best = j;
      }
    }
    nn[i] = best;
    nnD[i] = bd;
  };
  for (let i = 0; i < n; i++) rescan(i);

  const merges = Math.max(0, n - 1);
  const out: Dendrogram = { a: new Int32Array(merges), b: new Int32Array(merges), height: new Float64Array(merges) };
  for (let m = 0; m < merges; m++) {
    let i = -1;
    let best = Infinity;
    for (let k = 0; k < n; k++) {
      if (active[k] && nnD[k] < best) {
        best = nnD[k];
        i = k;
      }
    }
    const j = nn[i];
    const a = Math.min(i, j);
    const b = Math.max(i, j);
    const dab = d[a * n + b];
    const penalty = eff(a, b) - dab;
    out.a[m] = a;
    out.b[m] = b;
    out.height[m] = (linkage === 'centroid' ? Math.sqrt(Math.max(0, dab)) : dab) + penalty;
    const na = size[a];
    const nb = size[b];
    const s = na + nb;
    active[b] = 0;
    size[a] = s;
    for (let k = 0; k < n; k++) {
      if (!active[k] || k === a) continue;
      const dka = d[k * n + a];
      const dkb = d[k * n + b];
      const v = linkage === 'centroid'
        ? Math.max(0, (na * dka + nb * dkb) / s - (na * nb * dab) / (s * s))
        : (na * dka + nb * dkb) / s;
      d[k * n + a] = v;
      d[a * n + k] = v;
      if (cl) {
        const c = cl[k * n + a] + cl[k * n + b];
        cl[k * n + a] = c;
        cl[a * n + k] = c;
      }
    }
    rescan(a);
    for (let k = 0; k < n; k++) {
      if (!active[k] || k === a) continue;
      const v = eff(k, a);
      if (nn[k] === a || nn[k] === b) rescan(k);
      else if (v < nnD[k]) {
        nn[k] = a;
        nnD[k] = v;
      }
    }
  }
  return out;
}

/** Cluster labels 0..K-1 (numbered by first member) after the first `m` merges. */
export function cutAfter(n: number, dendrogram: Dendrogram, m: number): Int32Array {
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  for (let k = 0; k < m; k++) parent[find(dendrogram.b[k])] = find(dendrogram.a[k]);
  const ids = new Map<number, number>();
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = find(i);
    if (!ids.has(r)) ids.set(r, ids.size);
    labels[i] = ids.get(r) as number;
  }
  return labels;
}

/** Unit-length mean of each cluster's members. */
export function centroids(x: readonly Float32Array[], labels: Int32Array, k: number): Float32Array[] {
  const dim = x.length > 0 ? x[0].length : 0;
  const c = Array.from({ length: k }, () => new Float32Array(dim));
  labels.forEach((l, i) => {
    if (l < 0) return;
    const v = x[i];
    const cl = c[l];
    for (let j = 0; j < dim; j++) cl[j] += v[j];
  });
  return c.map(normalize);
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Labels 0..K-1 for `x` (unit vectors), with K in [bounds.min, bounds.max] whenever there are
 * at least bounds.min embeddings.
 */
export function clusterEmbeddings(
  x: readonly Float32Array[],
  p: ClusteringParams,
  bounds: SpeakerBounds,
  cannot?: CannotLink,
): Int32Array {
  const n = x.length;
  if (n === 0) return new Int32Array(0);
  if (n === 1 || bounds.max <= 1) return new Int32Array(n);
  // pyannote's heuristic: with few embeddings, a "large" cluster needs fewer members.
  const minSize = Math.min(p.minClusterSize, Math.max(1, Math.round(0.1 * n)));
  const dg = agglomerate(x, p.linkage, cannot);

  // large[m]: number of clusters with >= minSize members after m merges, tracked incrementally.
  const size = new Int32Array(n).fill(1);
  const large = new Int32Array(n);
  let count = minSize <= 1 ? n : 0;
  large[0] = count;
  for (let m = 0; m < n - 1; m++) {
    const a = dg.a[m];
    const b = dg.b[m];
    if (size[a] >= minSize) count--;
    if (size[b] >= minSize) count--;
    size[a] += size[b];
    if (size[a] >= minSize) count++;
    large[m + 1] = count;
  }
  let atThreshold = 0;
  while (atThreshold < n - 1 && dg.height[atThreshold] <= p.threshold) atThreshold++;

  const target = Math.min(Math.max(large[atThreshold], bounds.min, 1), bounds.max);
  if (target > large[atThreshold]) {
    const promoted = promoteSmallClusters(x, cutAfter(n, dg, Math.min(atThreshold, n - target)), minSize, target);
    if (promoted !== undefined) return promoted;
  }
  let cut = atThreshold;
  let foldSmall = true;
  const inRange = (k: number): boolean => k >= bounds.min && k <= bounds.max && k >= 1;
  if (!inRange(large[atThreshold])) {
    // Closest cut (in merges) to the threshold's that gives the target number of large clusters.
    let found = -1;
    for (let delta = 1; delta < n && found < 0; delta++) {
      for (const m of [atThreshold - delta, atThreshold + delta]) {
        if (m >= 0 && m <= n - 1 && large[m] === target) {
          found = m;
          break;
        }
      }
    }
    if (found >= 0) cut = found;
    else {
      // No cut has exactly that many large clusters (too few embeddings for minSize): cut to
      // exactly `target` clusters and keep the small ones, so a forced count is still met.
      cut = Math.max(0, n - target);
      foldSmall = false;
    }
  }
  let labels = cutAfter(n, dg, cut);
  if (!foldSmall) return labels;
  return foldSmallClusters(x, labels, minSize);
}

/**
 * A caller's minimum count above what the threshold finds (a 30 s meeting excerpt where one
 * person talks and three say a word each). Cutting the dendrogram lower until there are that many
 * large clusters splits the long talker in two; instead, the small clusters least like every
 * large one become the missing speakers, and the other small ones fold as usual. Undefined when
 * the cut has no large cluster or too few clusters in all.
 */
function promoteSmallClusters(x: readonly Float32Array[], labels: Int32Array, minSize: number, target: number): Int32Array | undefined {
  const { k, counts, largeIds } = clusterSizes(labels, minSize);
  if (largeIds.length === 0 || largeIds.length >= target || k < target) return undefined;
  const cents = centroids(x, labels, k);
  const likeness = Array.from(counts, (_, c) => Math.max(...largeIds.map((l) => dot(cents[c], cents[l]))));
  const promoted = [...counts.keys()]
    .filter((c) => counts[c] < minSize)
    .sort((a, b) => likeness[a] - likeness[b] || counts[b] - counts[a])
    .slice(0, target - largeIds.length);
  return foldInto(labels, cents, new Set([...largeIds, ...promoted]));
}

/** Members of clusters below minSize join the large cluster with the most similar centroid. */
function foldSmallClusters(x: readonly Float32Array[], labels: Int32Array, minSize: number): Int32Array {
  const { k, largeIds } = clusterSizes(labels, minSize);
  if (largeIds.length === 0) return new Int32Array(labels.length);
  if (largeIds.length === k) return labels;
  return foldInto(labels, centroids(x, labels, k), new Set(largeIds));
}

/** The number of clusters, each one's size, and those with at least `minSize` members. */
function clusterSizes(labels: Int32Array, minSize: number): { k: number; counts: Int32Array; largeIds: number[] } {
  const k = Math.max(...labels) + 1;
  const counts = new Int32Array(k);
  for (const l of labels) counts[l]++;
  return { k, counts, largeIds: [...counts.keys()].filter((c) => counts[c] >= minSize) };
}

/**
 * Clusters not in `kept` join the kept cluster with the most similar centroid (`cents`, one per
 * label); labels renumbered 0..K-1 by first member.
 */
function foldInto(labels: Int32Array, cents: readonly Float32Array[], kept: ReadonlySet<number>): Int32Array {
  const k = cents.length;
  const keptIds = [...kept];
  const target = new Int32Array(k);
  for (let c = 0; c < k; c++) {
    if (kept.has(c)) {
      target[c] = c;
      continue;
    }
    let best = keptIds[0];
    for (const l of keptIds) if (dot(cents[c], cents[l]) > dot(cents[c], cents[best])) best = l;
    target[c] = best;
  }
  // Renumber 0..K-1 by first member.
  const ids = new Map<number, number>();
  return labels.map((l) => {
    const t = target[l];
    if (!ids.has(t)) ids.set(t, ids.size);
    return ids.get(t) as number;
  });
}

/**
 * Cluster of each local speaker of one window, by cosine similarity to the centroids. With
 * `distinct`, two local speakers of the same window never share a cluster (the segmentation
 * model already decided they are different people), as long as there are enough clusters.
 */
export function assignWindow(embeddings: readonly Float32Array[], cents: readonly Float32Array[], distinct: boolean): number[] {
  if (cents.length === 0) return embeddings.map(() => -1);
  const sims = embeddings.map((e) => cents.map((c) => dot(e, c)));
  const argmax = (row: number[]): number => row.reduce((b, v, i) => (v > row[b] ? i : b), 0);
  if (!distinct || embeddings.length < 2) return sims.map(argmax);
  const picked = assignMaxScore(sims);
  return picked.map((c, r) => (c >= 0 ? c : argmax(sims[r])));
}
