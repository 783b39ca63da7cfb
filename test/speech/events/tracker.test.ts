import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventTracker, type LabelThresholds } from '../../../src/speech/events/tracker.js';
import { LABELS } from '../../../src/speech/events/labels.js';

const NOISE = LABELS.findIndex((l) => l.label === 'noise');
const th: LabelThresholds = { onset: 0.5, offset: 0.3, minDurationMs: 240, maxGapMs: 500 };
const all = LABELS.map(() => th);
const timing = { startShiftMs: 360, endShiftMs: 360 };

/** Feeds a noise-score sequence (one value per 0.24 s patch), returns every event. */
function run(seq: number[], opts: { thresholds?: LabelThresholds[]; totalMs?: number } = {}) {
  const t = new EventTracker(opts.thresholds ?? all, timing, 24);
  const out = [];
  const scores = new Float32Array(LABELS.length);
  for (let i = 0; i < seq.length; i++) {
    scores[NOISE] = seq[i];
    out.push(...t.push(i, scores));
  }
  out.push(...t.finish(opts.totalMs ?? seq.length * 240 + 735));
  return out;
}

test('hysteresis: opens at the onset threshold, continues down to the offset threshold', () => {
  // 0.4 never opens (below onset); once open, 0.35 keeps it going.
  assert.deepEqual(run([0, 0.4, 0.4, 0]), []);
  const ev = run([0, 0, 0.6, 0.35, 0.35, 0.1, 0.1, 0.1, 0.1]);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].label, 'noise');
  assert.equal(ev[0].type, 'noise');
  assert.equal(ev[0].labelIndex, NOISE);
  assert.equal(ev[0].confidence, 0.6);
  // First firing patch 2 starts at 480 ms (+360), the last one (4) ends at 960 + 975 (-360).
  assert.equal(ev[0].startTimestamp, 840);
  assert.equal(ev[0].endTimestamp, 1575);
});

test('gaps up to maxGapMs are bridged, longer ones split the event', () => {
  // Two patches below offset (480 ms) are bridged; three (720 ms) are not.
  assert.equal(run([0.6, 0, 0, 0.6, 0, 0, 0, 0]).length, 1);
  assert.equal(run([0.6, 0, 0, 0, 0.6, 0, 0, 0, 0]).length, 2);
  // After a split the event must reach the onset threshold again to reopen.
  assert.equal(run([0.6, 0, 0, 0, 0.35, 0.35, 0, 0, 0, 0]).length, 1);
});

test('events heard for less than minDurationMs are dropped; ends stay inside the media', () => {
  const two = LABELS.map(() => ({ ...th, minDurationMs: 480 }));
  assert.deepEqual(run([0, 0.9, 0, 0, 0, 0], { thresholds: two }), []);
  assert.equal(run([0, 0.9, 0.9, 0, 0, 0], { thresholds: two }).length, 1);
  // Still open at the end: closed by finish, end clipped to the media length.
  const ev = run([0, 0, 0.9, 0.9], { totalMs: 1000 });
  assert.equal(ev.length, 1);
  assert.equal(ev[0].endTimestamp, 1000);
  assert.ok(ev[0].startTimestamp < ev[0].endTimestamp);
});
