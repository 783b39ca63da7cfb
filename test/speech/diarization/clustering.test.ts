import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agglomerate, assignWindow, clusterEmbeddings, cutAfter, type ClusteringParams } from '../../../src/speech/diarization/clustering.js';
import { assignMinCost } from '../../../src/speech/diarization/hungarian.js';
import { dequantize, normalize, quantize } from '../../../src/speech/diarization/embedding.js';
import { clusteringSample } from '../../../src/speech/diarization/pipeline.js';

/** Deterministic PRNG so the synthetic speakers are the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** `perSpeaker` unit vectors scattered around each of `speakers` random directions. */
function speakers(count: number, perSpeaker: number, spread: number, seed = 1): { x: Float32Array[]; truth: number[] } {
  const r = rng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const centers = Array.from({ length: count }, () => normalize(Float32Array.from({ length: 64 }, gauss)));
  const x: Float32Array[] = [];
  const truth: number[] = [];
  for (let i = 0; i < count * perSpeaker; i++) {
    const c = i % count;
    x.push(normalize(centers[c].map((v) => v + spread * gauss())));
    truth.push(c);
  }
  return { x, truth };
}

/** Same partition up to renaming. */
function samePartition(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  const ab = new Map<number, number>();
  const ba = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    if ((ab.get(a[i]) ?? b[i]) !== b[i] || (ba.get(b[i]) ?? a[i]) !== a[i]) return false;
    ab.set(a[i], b[i]);
    ba.set(b[i], a[i]);
  }
  return true;
}

const P: ClusteringParams = { linkage: 'centroid', threshold: 0.9, minClusterSize: 3 };

test('well separated speakers are found, with either linkage', () => {
  const { x, truth } = speakers(3, 20, 0.05);
  assert.ok(samePartition(clusterEmbeddings(x, P, { min: 1, max: 30 }), truth));
  assert.ok(samePartition(clusterEmbeddings(x, { ...P, linkage: 'average', threshold: 0.5 }, { min: 1, max: 30 }), truth));
});

test('speaker-count bounds are honoured in both directions', () => {
  const { x, truth } = speakers(4, 15, 0.05, 7);
  const auto = clusterEmbeddings(x, P, { min: 1, max: 30 });
  assert.equal(Math.max(...auto) + 1, 4);
  assert.ok(samePartition(auto, truth));
  for (const k of [1, 2, 3, 5, 6]) {
    const labels = clusterEmbeddings(x, P, { min: k, max: k });
    assert.equal(Math.max(...labels) + 1, k, `forced ${k}`);
  }
  // A range that contains the natural count changes nothing.
  assert.ok(samePartition(clusterEmbeddings(x, P, { min: 2, max: 6 }), truth));
  // Forcing fewer clusters merges whole speakers, it does not split them.
  const two = clusterEmbeddings(x, P, { min: 1, max: 2 });
  for (let s = 0; s < 4; s++) {
    const ls = new Set(truth.flatMap((t, i) => (t === s ? [two[i]] : [])));
    assert.equal(ls.size, 1, `speaker ${s} split`);
  }
});

test('outliers too few to be a speaker join the nearest large cluster', () => {
  const { x } = speakers(2, 20, 0.05, 3);
  const odd = speakers(1, 2, 0.05, 99).x;
  const labels = clusterEmbeddings([...x, ...odd], P, { min: 1, max: 30 });
  assert.equal(Math.max(...labels) + 1, 2);
});

test('a forced count above the natural one gives the people who said little their own speaker, not part of the long talker', () => {
  // One person talks for the whole excerpt in three nearby modes (a voice varies over 30 s), two
  // others say a word each. Cutting the dendrogram lower would split the talker by mode.
  const r = rng(3);
  const gauss = (): number => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const direction = (): Float32Array => normalize(Float32Array.from({ length: 64 }, gauss));
  const near = (c: Float32Array, spread: number): Float32Array => normalize(c.map((v) => v + spread * gauss()));
  const voice = direction();
  const modes = [near(voice, 0.08), near(voice, 0.08), near(voice, 0.08)];
  const x = [...Array.from({ length: 30 }, (_, i) => near(modes[i % 3], 0.02)), direction(), direction()];
  const labels = clusterEmbeddings(x, P, { min: 3, max: 3 });
  assert.equal(Math.max(...labels) + 1, 3);
  assert.equal(new Set(labels.slice(0, 30)).size, 1, 'the long talker stays one speaker');
  assert.notEqual(labels[30], labels[31]);
  assert.notEqual(labels[30], labels[0]);
  // Automatic: two words are too few to be speakers and join the talker.
  assert.equal(Math.max(...clusterEmbeddings(x, P, { min: 1, max: 30 })) + 1, 1);
});

test('tiny inputs', () => {
  assert.deepEqual([...clusterEmbeddings([], P, { min: 1, max: 30 })], []);
  const { x } = speakers(2, 1, 0.01);
  assert.deepEqual([...clusterEmbeddings(x.slice(0, 1), P, { min: 1, max: 30 })], [0]);
  assert.equal(Math.max(...clusterEmbeddings(x, P, { min: 2, max: 2 })) + 1, 2);
  assert.deepEqual([...clusterEmbeddings(x, P, { min: 1, max: 1 })], [0, 0]);
});

test('the dendrogram replays into the same clusters by merge count', () => {
  const { x } = speakers(3, 5, 0.05, 5);
  const dg = agglomerate(x, 'average');
  assert.equal(dg.height.length, 14);
  assert.equal(Math.max(...cutAfter(15, dg, 12)) + 1, 3);
  assert.equal(Math.max(...cutAfter(15, dg, 14)) + 1, 1);
  assert.equal(Math.max(...cutAfter(15, dg, 0)) + 1, 15);
});

test('two local speakers of one window go to different clusters when asked', () => {
  const c = [normalize(Float32Array.from([1, 0, 0])), normalize(Float32Array.from([0, 1, 0]))];
  const e = [normalize(Float32Array.from([1, 0.2, 0])), normalize(Float32Array.from([1, 0.5, 0]))];
  assert.deepEqual(assignWindow(e, c, false), [0, 0]);
  assert.deepEqual(assignWindow(e, c, true), [0, 1]);
  // More local speakers than clusters: the extra one takes its nearest.
  assert.deepEqual(assignWindow([...e, e[0]], c, true).length, 3);
});

test('Hungarian assignment is optimal on rectangular matrices', () => {
  assert.deepEqual(assignMinCost([[4, 1, 3], [2, 0, 5], [3, 2, 2]]), [1, 0, 2]);
  assert.deepEqual(assignMinCost([[1, 9], [9, 1], [5, 5]]), [0, 1, -1]);
  assert.deepEqual(assignMinCost([[5, 1, 9, 9]]), [1]);
  // Exhaustive check on small random matrices.
  const r = rng(11);
  for (let t = 0; t < 50; t++) {
    const n = 1 + Math.floor(r() * 4);
    const m = n + Math.floor(r() * 3);
    const cost = Array.from({ length: n }, () => Array.from({ length: m }, () => Math.round(r() * 20)));
    const got = assignMinCost(cost).reduce((a, c, i) => a + cost[i][c], 0);
    let best = Infinity;
    const perm = (i: number, used: Set<number>, acc: number): void => {
      if (i === n) {
        best = Math.min(best, acc);
        return;
      }
      for (let j = 0; j < m; j++) if (!used.has(j)) perm(i + 1, new Set([...used, j]), acc + cost[i][j]);
    };
    perm(0, new Set(), 0);
    assert.equal(got, best);
  }
});

test('int8 storage keeps cosine similarities within 2e-3', () => {
  // 256 dimensions, as the speaker encoder's output.
  const r = rng(4);
  const gauss = (): number => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  for (let t = 0; t < 200; t++) {
    const a = normalize(Float32Array.from({ length: 256 }, gauss));
    const b = normalize(a.map((v) => v + 0.05 * gauss()));
    const exact = a.reduce((s, v, j) => s + v * b[j], 0);
    const qa = dequantize(quantize(a));
    const qb = dequantize(quantize(b));
    const approx = qa.reduce((s, v, j) => s + v * qb[j], 0);
    assert.ok(Math.abs(exact - approx) < 2e-3, `${exact} vs ${approx}`);
  }
});

test('past the bound, whole windows are thinned evenly so cannot-link pairs survive', () => {
  const e = new Int8Array(256);
  // 100 windows: even ones hold two local speakers, odd ones one: 150 embeddings.
  const windows = Array.from({ length: 100 }, (_, w) => ({
    runs: [new Uint16Array(0), new Uint16Array(0), new Uint16Array(0)],
    embeddings: w % 2 === 0 ? [e, null, e] : [null, e, null],
  }));
  assert.equal(clusteringSample(windows, 1000).length, 150);
  const thin = clusteringSample(windows, 40);
  assert.ok(thin.length <= 40 && thin.length >= 30, `${thin.length}`);
  // Every chosen window comes with all its embeddings.
  const byWindow = new Map<number, number>();
  for (const { w } of thin) byWindow.set(w, (byWindow.get(w) ?? 0) + 1);
  for (const [w, n] of byWindow) assert.equal(n, w % 2 === 0 ? 2 : 1);
  // Spread over the whole recording.
  assert.ok(Math.min(...byWindow.keys()) < 10 && Math.max(...byWindow.keys()) > 90);
});
