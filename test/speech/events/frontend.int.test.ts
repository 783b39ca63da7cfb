import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LogMel, LOG_OFFSET, MEL_BANDS, PATCH_FRAMES, PATCH_SAMPLES, YAMNET_PATCH_HOP_FRAMES, patchCount, quantisedPatches,
} from '../../../src/speech/events/frontend.js';
import { readQuantisation } from '../../../src/speech/events/yamnet.js';
import { join } from 'node:path';
import { modelsDir } from '../../helpers/media-fixtures.js';

const tone = (hz: number, seconds: number, amp = 0.5): Float32Array =>
  Float32Array.from({ length: Math.round(16000 * seconds) }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / 16000));

test('frames are whole 400-sample windows every 160 samples (no centring, no end padding)', () => {
  assert.equal(LogMel.frameCount(399), 0);
  assert.equal(LogMel.frameCount(400), 1);
  assert.equal(LogMel.frameCount(559), 1);
  assert.equal(LogMel.frameCount(560), 2);
  assert.equal(PATCH_SAMPLES, 15600);
  assert.equal(patchCount(PATCH_SAMPLES - 1, 48), 0);
  assert.equal(patchCount(PATCH_SAMPLES, 48), 1);
  assert.equal(patchCount(PATCH_SAMPLES + 7680, 48), 2);
  assert.equal(patchCount(PATCH_SAMPLES + 3840, 24), 2);
});

test('silence sits at log(offset); a tone peaks in its HTK mel band, with magnitude (not power) scaling', () => {
  const lm = new LogMel();
  const silent = lm.frames(new Float32Array(4000));
  assert.ok(silent.every((v) => Math.abs(v - Math.log(LOG_OFFSET)) < 1e-6));

  const a = lm.frames(tone(1000, 0.5));
  const band = (f: Float32Array, frame: number): number => {
    let best = 0;
    for (let m = 1; m < MEL_BANDS; m++) if (f[frame * MEL_BANDS + m] > f[frame * MEL_BANDS + best]) best = m;
    return best;
  };
  // HTK mel: 125 Hz -> 184.9, 7500 Hz -> 2769.4, 1000 Hz -> 1000.0; band centres every 39.76 mel,
  // so 1 kHz falls between the centres of bands 19 and 20.
  assert.ok([19, 20].includes(band(a, 10)), `1 kHz peaks in band ${band(a, 10)}`);
  assert.ok(band(lm.frames(tone(4000, 0.5)), 10) > 45);
  // Magnitude spectrum: halving the amplitude lowers the peak band by ln 2, not ln 4.
  const b = lm.frames(tone(1000, 0.5, 0.25));
  const m = band(a, 10);
  assert.ok(Math.abs(a[10 * MEL_BANDS + m] - b[10 * MEL_BANDS + m] - Math.log(2)) < 0.01);
  // Below 125 Hz only window leakage reaches the filterbank (its first band starts at 125 Hz).
  const peak = (f: Float32Array): number => Math.max(...f.subarray(10 * MEL_BANDS, 11 * MEL_BANDS));
  assert.ok(peak(lm.frames(tone(40, 0.5))) < peak(a) - 3, `${peak(lm.frames(tone(40, 0.5)))} vs ${peak(a)}`);
});

test('patches take 96 frames every hop and quantise with the graph’s own scale and zero point', () => {
  const q = readQuantisation(join(modelsDir(), 'yamnet-int8', 'model.onnx'));
  // The values the graph stores, as documented in the shared models README.
  assert.ok(Math.abs(q.inScale - 0.04793788) < 1e-7 && q.inZeroPoint === 144, JSON.stringify(q));
  assert.ok(Math.abs(q.outScale - 0.75654173) < 1e-7 && q.outZeroPoint === 190, JSON.stringify(q));
  const lm = new LogMel();
  const pcm = tone(1000, 2);
  const { data, count } = quantisedPatches(lm, pcm, YAMNET_PATCH_HOP_FRAMES, q.inScale, q.inZeroPoint);
  assert.equal(count, patchCount(pcm.length, YAMNET_PATCH_HOP_FRAMES));
  assert.equal(data.length, count * PATCH_FRAMES * MEL_BANDS);
  const frames = lm.frames(pcm);
  // Patch 1 starts at frame 48.
  const v = frames[48 * MEL_BANDS + 20];
  assert.equal(data[PATCH_FRAMES * MEL_BANDS + 20], Math.min(255, Math.max(0, Math.round(v / q.inScale) + q.inZeroPoint)));
  // Silence quantises to (about) zero: ln(0.001) is the bottom of the calibrated input range.
  const sil = quantisedPatches(lm, new Float32Array(PATCH_SAMPLES), 48, q.inScale, q.inZeroPoint);
  assert.ok(sil.data.every((x) => x <= 1));
});
