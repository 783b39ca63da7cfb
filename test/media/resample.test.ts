import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { resample } from '../../src/media/resample.js';

function sine(freq: number, rate: number, seconds: number, amplitude = 0.5): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = amplitude * Math.sin((2 * Math.PI * freq * i) / rate);
  return out;
}

function rms(pcm: Float32Array, from = 0, to = pcm.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += pcm[i] * pcm[i];
  return Math.sqrt(sum / (to - from));
}

describe('resample', () => {
  test('22,050 Hz to 16 kHz keeps the duration', () => {
    const out = resample(new Float32Array(22_050), 22_050, 16_000);
    assert.equal(out.length, 16_000);
  });

  test('a 440 Hz tone comes through at the same level and frequency', () => {
    const out = resample(sine(440, 22_050, 1), 22_050, 16_000);
    const expected = sine(440, 16_000, 1);
    // Away from the edges (the kernel sees zeros past them), sample by sample.
    let maxError = 0;
    for (let i = 200; i < out.length - 200; i++) maxError = Math.max(maxError, Math.abs(out[i] - expected[i]));
    assert.ok(maxError < 0.01, `max error ${maxError}`);
  });

  test('a tone above the new Nyquist rate is filtered out, not aliased', () => {
    const out = resample(sine(10_000, 22_050, 1), 22_050, 16_000);
    const level = rms(out, 200, out.length - 200);
    assert.ok(level < 0.01, `rms ${level} (input rms ${0.5 / Math.SQRT2})`);
  });

  test('upsampling works too, and equal rates copy', () => {
    const input = sine(300, 8_000, 0.5);
    const up = resample(input, 8_000, 16_000);
    assert.equal(up.length, 8_000);
    assert.ok(Math.abs(rms(up, 200, up.length - 200) - 0.5 / Math.SQRT2) < 0.01);
    const same = resample(input, 8_000, 8_000);
    assert.deepEqual(same, input);
    assert.notEqual(same, input);
  });

  test('rejects non-positive rates', () => {
    assert.throws(() => resample(new Float32Array(4), 0, 16_000), RangeError);
    assert.throws(() => resample(new Float32Array(4), 22_050, Number.NaN), RangeError);
  });
});
