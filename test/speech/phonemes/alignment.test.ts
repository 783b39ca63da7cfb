import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  forcedAlign,
  freeLoopRatios,
  goodnessOfPronunciation,
  greedyCtcDecode,
  minFramesFor,
  type LogProbMatrix,
} from '../../../src/speech/phonemes/alignment.js';
import { peakedMatrix } from '../../helpers/log-probs.js';

const V = 5; // tokens 0-3 are phonemes, 4 is the blank
const BLANK = 4;

const matrix = (winners: number[], p?: number): LogProbMatrix => peakedMatrix(winners, V, p);

test('the alignment gives each target the frames that favour it, in order', () => {
  //         0  1  2  3  4  5  6  7  8  9
  const w = [4, 0, 0, 4, 1, 1, 1, 4, 4, 2];
  const a = forcedAlign(matrix(w), [0, 1, 2], BLANK);
  assert.ok(a);
  assert.deepEqual(a.spans, [
    { start: 1, end: 3 },
    { start: 4, end: 7 },
    { start: 9, end: 10 },
  ]);
  assert.ok(a.logProb < 0 && a.logProb > 10 * Math.log(0.9) - 1e-6);
});

test('a repeated token needs a blank between its two occurrences', () => {
  assert.equal(minFramesFor([1, 1, 2]), 4);
  assert.equal(forcedAlign(matrix([1, 1, 2]), [1, 1, 2], BLANK), null);
  const a = forcedAlign(matrix([1, 4, 1, 2]), [1, 1, 2], BLANK);
  assert.deepEqual(a?.spans, [
    { start: 0, end: 1 },
    { start: 2, end: 3 },
    { start: 3, end: 4 },
  ]);
  // Without a blank frame between them the model's single run of 1 is still split in two.
  const b = forcedAlign(matrix([1, 1, 1, 1, 2]), [1, 1, 2], BLANK);
  assert.ok(b);
  assert.equal(b.spans[0].end < b.spans[1].start, true);
});

test('spans are monotonic, disjoint and non-empty on random matrices, and fit the frames', () => {
  let seed = 12345;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 200; trial++) {
    const T = 1 + Math.floor(rand() * 30);
    const frames = Float32Array.from({ length: T * V }, () => Math.log(0.01 + rand()));
    const targets = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 4));
    const a = forcedAlign({ frames, frameCount: T, vocabSize: V }, targets, BLANK);
    if (T < minFramesFor(targets)) {
      assert.equal(a, null);
      continue;
    }
    assert.ok(a, `T=${T} targets=${targets.join(',')}`);
    let prevEnd = 0;
    a.spans.forEach((s, i) => {
      assert.ok(s.start >= prevEnd && s.end > s.start && s.end <= T, JSON.stringify(a.spans));
      if (i > 0 && targets[i] === targets[i - 1]) assert.ok(s.start > prevEnd, 'equal neighbours are split by a blank');
      prevEnd = s.end;
    });
  }
});

test('the best path beats every other path: brute force on small cases', () => {
  // Enumerate all frame labellings, keep those that collapse to the targets, take the best.
  const T = 6;
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 20; trial++) {
    const frames = Float32Array.from({ length: T * V }, () => Math.log(0.01 + rand()));
    const targets = [Math.floor(rand() * 4), Math.floor(rand() * 4), Math.floor(rand() * 4)];
    let best = -Infinity;
    for (let code = 0; code < V ** T; code++) {
      const path: number[] = [];
      let c = code;
      for (let t = 0; t < T; t++, c = Math.floor(c / V)) path.push(c % V);
      const collapsed = path.filter((v, t) => v !== BLANK && (t === 0 || v !== path[t - 1]));
      if (collapsed.join() !== targets.join()) continue;
      best = Math.max(best, path.reduce((s, v, t) => s + frames[t * V + v], 0));
    }
    const a = forcedAlign({ frames, frameCount: T, vocabSize: V }, targets, BLANK);
    if (best === -Infinity) assert.equal(a, null);
    else assert.ok(Math.abs(a!.logProb - best) < 1e-4, `${a?.logProb} vs ${best}`);
  }
});

test('a phoneme whose frames favour another phoneme scores lower', () => {
  // Target says 0 1 2; the audio says 0 3 2 (token 3 heard where 1 was meant).
  const targets = [0, 1, 2];
  const good = matrix([4, 0, 0, 4, 1, 1, 4, 2, 2, 4]);
  const bad = matrix([4, 0, 0, 4, 3, 3, 4, 2, 2, 4]);
  const opts = { notCompetitors: [BLANK] };
  const g = goodnessOfPronunciation(good, targets, forcedAlign(good, targets, BLANK)!.spans, opts);
  const b = goodnessOfPronunciation(bad, targets, forcedAlign(bad, targets, BLANK)!.spans, opts);
  assert.ok(g.every((x) => x > 0), `good: ${g.join(', ')}`);
  assert.ok(b[1] < 0, `bad: ${b.join(', ')}`);
  assert.ok(b[1] < b[0] && b[1] < b[2] && b[1] < g[1], `bad: ${b.join(', ')}`);
  // The blank's share does not move the score: 2 is as good among blank-heavy frames.
  assert.ok(Math.abs(b[0] - g[0]) < 1e-6 && Math.abs(b[2] - g[2]) < 1e-6);
});

test('tokens listed as not competing are ignored when finding the best competitor', () => {
  const lp = matrix([3, 3], 0.6);
  const spans = [{ start: 0, end: 2 }];
  const [withThree] = goodnessOfPronunciation(lp, [0], spans, { notCompetitors: [BLANK] });
  const [withoutThree] = goodnessOfPronunciation(lp, [0], spans, { notCompetitors: [BLANK, 3] });
  assert.ok(withThree < 0);
  assert.ok(Math.abs(withoutThree) < 1e-6); // 0 ties with 1 and 2
});

test('no targets, or a bad target id, are refused', () => {
  assert.equal(forcedAlign(matrix([0, 1]), [], BLANK), null);
  assert.throws(() => forcedAlign(matrix([0, 1]), [BLANK], BLANK), RangeError);
  assert.throws(() => forcedAlign(matrix([0, 1]), [7], BLANK), RangeError);
});

test('greedy decoding collapses repeats and drops blanks; the blank bias tips close frames', () => {
  assert.deepEqual(greedyCtcDecode(matrix([4, 0, 0, 4, 0, 1, 1, 4]), BLANK), [0, 0, 1]);
  const frames = new Float32Array(V).fill(-10);
  frames[BLANK] = Math.log(0.5);
  frames[2] = Math.log(0.48);
  const lp = { frames, frameCount: 1, vocabSize: V };
  assert.deepEqual(greedyCtcDecode(lp, BLANK), []);
  assert.deepEqual(greedyCtcDecode(lp, BLANK, -0.1), [2]);
});

test('free-loop ratios: 0 where the forced path is the best path, the summed shortfall where it is not', () => {
  const p = 0.9;
  const other = Math.log((1 - p) / (V - 1));
  const top = Math.log(p);
  //                 0  1  2  3
  const m = matrix([0, 3, 1, 1]);
  const spans = [
    { start: 0, end: 1 },
    { start: 2, end: 4 },
  ];
  // Token 0 owns frames 0-1 (frame 1, where 3 is heard, on the blank); token 1 its own span.
  const [a, b] = freeLoopRatios(m, [0, 1], spans, [{ start: 0, end: 2 }, spans[1]], BLANK);
  assert.ok(Math.abs(a - (other - top)) < 1e-6, `${a}`);
  assert.equal(b, 0);
  // Owning only its span, token 0 is the best path.
  assert.deepEqual(freeLoopRatios(m, [0, 1], spans, spans, BLANK), [0, 0]);
  // A wrong target on the frames of another phoneme: two frames' shortfall.
  const [c] = freeLoopRatios(m, [2], [spans[1]], [spans[1]], BLANK);
  assert.ok(Math.abs(c - 2 * (other - top)) < 1e-6, `${c}`);
  assert.throws(() => freeLoopRatios(m, [0, 1], spans, [spans[0]], BLANK), RangeError);
});
