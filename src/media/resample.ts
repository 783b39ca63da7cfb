/**
 * Sample-rate conversion of mono float32 PCM in TypeScript, for audio Sori makes itself (the
 * Piper voice speaks at 22,050 Hz; everything inside Sori is 16 kHz). Decoded input never needs
 * it: ffmpeg resamples in decode.ts.
 *
 * Method: band-limited interpolation with a Hann-windowed sinc. Each output sample at input time
 * t = i * inRate / outRate is the sum of the input samples within HALF_TAPS input periods (scaled
 * to the cutoff when downsampling) weighted by sinc(cutoff * (t - n)) * hann. The cutoff is the
 * lower of the two Nyquist rates times 0.95, so downsampling does not alias. About 2 * HALF_TAPS
 * multiply-adds per output sample: a few milliseconds per second of audio.
 */

const HALF_TAPS = 16;
const CUTOFF_MARGIN = 0.95;

export function resample(pcm: Float32Array, inRate: number, outRate: number): Float32Array {
  for (const [name, rate] of [['inRate', inRate], ['outRate', outRate]] as const) {
    if (!Number.isFinite(rate) || rate <= 0) throw new RangeError(`${name} must be a positive number, got ${rate}`);
  }
  if (inRate === outRate) return pcm.slice();
  const step = inRate / outRate;
  // Cutoff in cycles per input sample (0.5 is the input's Nyquist rate).
  const cutoff = 0.5 * Math.min(1, outRate / inRate) * CUTOFF_MARGIN;
  // Wider kernel when the cutoff is lower, so it spans HALF_TAPS zero crossings either way.
  const halfWidth = HALF_TAPS / (2 * cutoff);
  const outLength = Math.floor((pcm.length * outRate) / inRate);
  const out = new Float32Array(outLength);
  for (let i = 0; i < outLength; i++) {
    const t = i * step;
    const first = Math.max(0, Math.ceil(t - halfWidth));
    const last = Math.min(pcm.length - 1, Math.floor(t + halfWidth));
    let sum = 0;
    for (let n = first; n <= last; n++) {
      const x = t - n;
      const arg = 2 * cutoff * x;
      const sinc = arg === 0 ? 1 : Math.sin(Math.PI * arg) / (Math.PI * arg);
      const window = 0.5 + 0.5 * Math.cos((Math.PI * x) / halfWidth);
      sum += pcm[n] * 2 * cutoff * sinc * window;
    }
    out[i] = sum;
  }
  return out;
}
