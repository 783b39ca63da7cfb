import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RealFft } from '../../../src/speech/whisper/fft.js';

function naivePower(x: Float64Array): Float64Array {
  const n = x.length;
  const out = new Float64Array(n / 2 + 1);
  for (let k = 0; k <= n / 2; k++) {
    let re = 0;
    let im = 0;
    for (let t = 0; t < n; t++) {
      re += x[t] * Math.cos((-2 * Math.PI * k * t) / n);
      im += x[t] * Math.sin((-2 * Math.PI * k * t) / n);
    }
    out[k] = re * re + im * im;
  }
  return out;
}

for (const n of [400, 512, 30, 14]) {
  test(`real FFT power spectrum matches a naive DFT (n=${n})`, () => {
    let seed = n;
    const rnd = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const x = Float64Array.from({ length: n }, rnd);
    const got = new Float64Array(n / 2 + 1);
    new RealFft(n).powerSpectrum(x, got);
    const want = naivePower(x);
    for (let k = 0; k < want.length; k++) assert.ok(Math.abs(got[k] - want[k]) < 1e-8 * Math.max(1, want[k]), `bin ${k}: ${got[k]} vs ${want[k]}`);
  });
}
