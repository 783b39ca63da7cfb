import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coActiveFrames, stitchWindows } from '../../../src/speech/diarization/pipeline.js';
import type { WindowResult } from '../../../src/speech/diarization/types.js';

const runs = (...r: number[]): Uint16Array => Uint16Array.from(r);
const emb = new Int8Array(256);

test('co-active frames of two run lists, with a shift', () => {
  assert.equal(coActiveFrames(runs(0, 10, 20, 30), runs(5, 25), 0), 10);
  // b's frames move 100 later: [105, 125) against [0, 10) and [20, 30).
  assert.equal(coActiveFrames(runs(0, 10, 20, 30), runs(5, 25), 100), 0);
  assert.equal(coActiveFrames(runs(100, 130), runs(5, 25), 100), 20);
  assert.equal(coActiveFrames(runs(0, 50), runs(10, 20), -5), 10);
  assert.equal(coActiveFrames(runs(), runs(0, 10), 0), 0);
  assert.equal(coActiveFrames(runs(0, 100), runs(0, 10, 20, 30, 40, 50), 0), 30);
});

/** Two global speakers A (frames 0-400) and B (400-1000), windows of 589 frames every 200. */
function windowsOf(embedded: (w: number) => boolean): { windows: WindowResult[]; clusters: number[][] } {
  const truth = [[0, 400], [400, 1000]];
  const windows: WindowResult[] = [];
  const clusters: number[][] = [];
  for (let w = 0; w * 200 < 1000; w++) {
    const start = w * 200;
    // Local speaker order flips from window to window: local numbers mean nothing globally.
    const order = w % 2 === 0 ? [0, 1] : [1, 0];
    const r = order.map((s) => {
      const lo = Math.max(truth[s][0], start) - start;
      const hi = Math.min(truth[s][1], start + 589) - start;
      return hi > lo ? runs(lo, hi) : runs();
    });
    r.push(runs());
    windows.push({ runs: r, embeddings: r.map((x) => (embedded(w) && x.length > 0 ? emb : null)) });
    clusters.push(r.map((x, i) => (embedded(w) && x.length > 0 ? order[i] ?? -1 : -1)));
  }
  return { windows, clusters };
}

test('stitching gives windows without embeddings the clusters of overlapping embedded windows', () => {
  const { windows, clusters } = windowsOf((w) => w % 2 === 0);
  stitchWindows(windows, clusters, 200, true, 0.3);
  // Window 1 (frames 200-789): local 0 is B, local 1 is A.
  assert.deepEqual(clusters[1], [1, 0, -1]);
  windows.forEach((win, w) => {
    win.runs.forEach((r, s) => {
      if (r.length === 0) return;
      const globalStart = w * 200 + r[0];
      assert.equal(clusters[w][s], globalStart < 400 ? 0 : 1, `window ${w} speaker ${s}`);
    });
  });
});

test('stitching leaves embedded speakers alone, can be turned off, and needs agreement', () => {
  const a = windowsOf((w) => w % 2 === 0);
  const before = a.clusters.map((c) => [...c]);
  stitchWindows(a.windows, a.clusters, 200, true, 2);
  assert.deepEqual(a.clusters, before);
  // No embedded window at all: nothing to stitch from.
  const b = windowsOf(() => false);
  stitchWindows(b.windows, b.clusters, 200, true, 0);
  assert.ok(b.clusters.every((c) => c.every((x) => x === -1)));
  // A speaker active where no embedded speaker is: under the agreement bound, unassigned.
  const lone: WindowResult[] = [
    { runs: [runs(0, 100), runs(), runs()], embeddings: [emb, null, null] },
    { runs: [runs(300, 400), runs(), runs()], embeddings: [null, null, null] },
  ];
  const cl = [[0, -1, -1], [-1, -1, -1]];
  stitchWindows(lone, cl, 200, true, 0.3);
  assert.equal(cl[1][0], -1);
});
