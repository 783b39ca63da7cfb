import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reconstructor, postProcess } from '../../../src/speech/diarization/reconstruct.js';
import { FRAMES_PER_WINDOW, FRAME_STEP_SAMPLES, frameMiddleSample, decodePowerset, speakerRuns } from '../../../src/speech/diarization/segmentation.js';

const NONE = { warmUp: 0, minDurationOff: 0, minDurationOn: 0, padding: 0, hamming: false };
const STEP = 59;
const sec = (g: number): number => frameMiddleSample(g) / 16000;

/** Windows over a global truth: speaker s active on frames [a, b) of `truth[s]`; local speaker = s. */
function windowsFor(truth: [number, number][][], frames: number): { runs: Uint16Array[]; clusters: number[] }[] {
  const out = [];
  for (let start = 0; start < frames; start += STEP) {
    const runs = truth.map((spans) => {
      const r: number[] = [];
      for (const [a, b] of spans) {
        const lo = Math.max(a, start) - start;
        const hi = Math.min(b, start + FRAMES_PER_WINDOW) - start;
        if (hi > lo) r.push(lo, hi);
      }
      return Uint16Array.from(r);
    });
    out.push({ runs, clusters: truth.map((_, s) => s) });
    if (start + FRAMES_PER_WINDOW >= frames) break;
  }
  return out;
}

test('clustered windows become global turns at frame precision, overlap kept', () => {
  const frames = 2000;
  const truth: [number, number][][] = [[[0, 700], [1200, 1500]], [[650, 1250]]];
  const rec = new Reconstructor(STEP, 2, 30, frames * FRAME_STEP_SAMPLES + 721, NONE);
  windowsFor(truth, frames).forEach((w, i) => rec.add(i, w));
  const turns = rec.finish();
  const expected = [
    { speaker: 1, from: 0, to: 700 },
    { speaker: 2, from: 650, to: 1250 },
    { speaker: 1, from: 1200, to: 1500 },
  ];
  assert.equal(turns.length, 3, JSON.stringify(turns));
  expected.forEach((e, i) => {
    assert.equal(turns[i].speaker, e.speaker);
    assert.ok(Math.abs(turns[i].start - Math.max(0, sec(e.from) - 0.0085)) < 0.002, JSON.stringify(turns[i]));
    assert.ok(Math.abs(turns[i].end - (sec(e.to - 1) + 0.0085)) < 0.002, JSON.stringify(turns[i]));
  });
});

test('the per-frame speaker count keeps the clusters seen in most windows', () => {
  const frames = 1200;
  // One local speaker throughout, but one window in ten calls it cluster 1 instead of 0:
  // the count is 1 everywhere, so cluster 0 wins every frame.
  const rec = new Reconstructor(STEP, 2, 30, frames * FRAME_STEP_SAMPLES, NONE);
  windowsFor([[[0, frames]]], frames).forEach((w, i) => rec.add(i, { runs: w.runs, clusters: [i % 10 === 3 ? 1 : 0] }));
  const turns = rec.finish();
  assert.deepEqual(turns.map((t) => t.speaker), [1]);
  // maxSpeakers caps the count: two overlapping speakers, max 1 -> never two at once.
  const capped = new Reconstructor(STEP, 2, 1, frames * FRAME_STEP_SAMPLES, NONE);
  windowsFor([[[0, 800]], [[400, 1200]]], frames).forEach((w, i) => capped.add(i, w));
  const t = capped.finish();
  for (let i = 1; i < t.length; i++) assert.ok(t[i].start >= t[i - 1].end - 1e-6, JSON.stringify(t));
});

test('post-processing joins short gaps, drops short turns, numbers by first appearance', () => {
  const raw = [
    { start: 5, end: 6, cluster: 0 },
    { start: 1, end: 2, cluster: 3 },
    { start: 2.1, end: 3, cluster: 3 },
    { start: 7, end: 7.05, cluster: 1 },
  ];
  assert.deepEqual(postProcess(raw, { minDurationOff: 0.2, minDurationOn: 0.1, padding: 0 }, 16000 * 10), [
    { start: 1, end: 3, speaker: 1 },
    { start: 5, end: 6, speaker: 2 },
  ]);
});

test('powerset decoding and frame runs', () => {
  const lp = new Float32Array(5 * 7).fill(-10);
  [0, 1, 4, 6, 2].forEach((cls, f) => (lp[f * 7 + cls] = 0));
  const bits = decodePowerset(lp, 5);
  assert.deepEqual([...bits], [0b000, 0b001, 0b011, 0b110, 0b010]);
  assert.deepEqual([...speakerRuns(bits, 0)], [1, 3]);
  assert.deepEqual([...speakerRuns(bits, 1)], [2, 5]);
  assert.deepEqual([...speakerRuns(bits, 1, true)], [4, 5]);
  assert.deepEqual([...speakerRuns(bits, 2)], [3, 4]);
});

test('Hamming weighting: a window that sees frames in its middle outvotes two that see them at an edge', () => {
  // Windows every 250 frames; global frames 500-589 are the end of window 0, the middle of
  // window 1 and the start of window 2. The edges say cluster 1, the middle cluster 0.
  const only = (lo: number, hi: number): Uint16Array[] => [Uint16Array.of(lo, hi)];
  const windows = [
    { runs: only(500, 589), clusters: [1] },
    { runs: only(250, 339), clusters: [0] },
    { runs: only(0, 89), clusters: [1] },
  ];
  const heard = (hamming: boolean): number[] => {
    const rec = new Reconstructor(250, 2, 30, 1100 * FRAME_STEP_SAMPLES, { ...NONE, hamming });
    windows.forEach((w, i) => rec.add(i, w));
    const turns = rec.finish();
    assert.equal(turns.length, 1, JSON.stringify(turns));
    return [...rec.heard];
  };
  assert.deepEqual(heard(false), [1]);
  assert.deepEqual(heard(true), [0]);
});
