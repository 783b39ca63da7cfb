import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boundaryRecall, gapsBetween, intervalDistance, spansFromMs } from '../../bench/lib/boundaries.js';

const s = (start: number, end: number) => ({ start, end });

test('intervalDistance: overlap and touching are 0, otherwise the space between', () => {
  assert.equal(intervalDistance(s(1, 2), s(1.5, 3)), 0);
  assert.equal(intervalDistance(s(1, 2), s(2, 3)), 0);
  assert.equal(intervalDistance(s(1, 2), s(0, 5)), 0);
  assert.ok(Math.abs(intervalDistance(s(1, 2), s(2.25, 3)) - 0.25) < 1e-12);
  assert.ok(Math.abs(intervalDistance(s(2.25, 3), s(1, 2)) - 0.25) < 1e-12);
});

test('gapsBetween: sorted by start, overlapping neighbours give an ordered gap', () => {
  assert.deepEqual(gapsBetween([s(5, 6), s(0, 1), s(2, 3)]), [s(1, 2), s(3, 5)]);
  assert.deepEqual(gapsBetween([s(0, 2), s(1.5, 3)]), [s(1.5, 2)]);
  assert.deepEqual(gapsBetween([s(0, 1)]), []);
  assert.deepEqual(gapsBetween([]), []);
});

test('boundaryRecall: every boundary found when the output splits at the pauses', () => {
  const ref = [s(0, 5.98), s(6.58, 14.08), s(14.68, 24.58)];
  // VAD-tight output segments: the pause looks wider than the reference's (padded) one.
  const out = [s(0.3, 5.7), s(6.9, 13.8), s(15.0, 24.2)];
  const r = boundaryRecall(ref, out);
  assert.equal(r.boundaries, 2);
  assert.equal(r.found, 2);
  assert.equal(r.recall, 1);
  assert.equal(r.outputGaps, 2);
  assert.equal(r.unmatchedGaps, 0);
  assert.equal(r.matches[0].distanceS, 0);
});

test('boundaryRecall: a missed split, and the 300 ms tolerance at its edge', () => {
  const ref = [s(0, 4), s(4.5, 8), s(8.5, 12)];
  // One merged segment across the first boundary; the second boundary's gap is 0.3 s late.
  const out = [s(0, 8.8), s(9.1, 12)];
  const r = boundaryRecall(ref, out);
  assert.equal(r.boundaries, 2);
  assert.equal(r.found, 1);
  assert.equal(r.recall, 0.5);
  assert.equal(r.matches[0].found, false);
  assert.ok(Math.abs(r.matches[0].distanceS - 4.3) < 1e-9); // nearest gap [8.8, 9.1] vs [4, 4.5]
  assert.equal(r.matches[1].found, true); // [8.8, 9.1] vs [8, 8.5]: 0.3 s apart, within tolerance
  const strict = boundaryRecall(ref, out, 0.29);
  assert.equal(strict.found, 0);
});

test('boundaryRecall: extra splits are counted, not penalised in recall', () => {
  const ref = [s(0, 4), s(4.6, 9)];
  const out = [s(0, 2), s(2.5, 4), s(4.8, 9)];
  const r = boundaryRecall(ref, out);
  assert.equal(r.recall, 1);
  assert.equal(r.outputGaps, 2);
  assert.equal(r.unmatchedGaps, 1);
});

test('boundaryRecall: no output gaps at all, and a single reference utterance', () => {
  const r = boundaryRecall([s(0, 1), s(2, 3)], [s(0, 3)]);
  assert.equal(r.found, 0);
  assert.equal(r.matches[0].nearest, null);
  assert.equal(r.matches[0].distanceS, Infinity);
  assert.ok(Number.isNaN(boundaryRecall([s(0, 1)], [s(0, 1)]).recall));
});

test('spansFromMs: CLOVA integer milliseconds to seconds', () => {
  assert.deepEqual(spansFromMs([{ start: 1500, end: 2250 }]), [s(1.5, 2.25)]);
});
