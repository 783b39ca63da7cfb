/**
 * YAMNet's log-mel front end, reproduced from the TensorFlow original (models/research/audioset/
 * yamnet/features.py) because the ONNX graph starts after it: `tf.signal.stft` (periodic Hann of
 * 400 samples, zero-padded to a 512-point FFT, hop 160, no centring, magnitude not power),
 * `tf.signal.linear_to_mel_weight_matrix` (HTK mel scale, triangles drawn in mel space, DC bin
 * zeroed, no area normalisation), then `log(mel + offset)`, framed into 96-frame patches (YAMNet's hop is 48 frames; the hop is a parameter here).
 */
import { SAMPLE_RATE } from '../../audio.js';

export const WINDOW = 400;
export const HOP = 160;
export const N_FFT = 512;
export const MEL_BANDS = 64;
export const PATCH_FRAMES = 96;
/** YAMNet's own patch hop (0.48 s). Any hop works with the model; see DEFAULT_PATCH_HOP_FRAMES. */
export const YAMNET_PATCH_HOP_FRAMES = 48;
/** Samples one patch spans: 95 hops plus one window (0.975 s, YAMNet's minimum input). */
export const PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP + WINDOW;
const BINS = N_FFT / 2 + 1;
const MEL_MIN_HZ = 125;
const MEL_MAX_HZ = 7500;
/**
 * YAMNet's params.py trains with 0.001. The shared models README says 1e-6, but the quantised
 * graph's own input range starts at -144 · 0.04793788 = -6.903 ≈ ln(0.001): its calibration data
 * was made with 0.001 as well, and anything lower is clipped by the uint8 input anyway.
 */
export const LOG_OFFSET = 0.001;

const hertzToMel = (hz: number): number => 1127 * Math.log(1 + hz / 700);

/**
 * Sparse mel filterbank: for each band, the first FFT bin with a non-zero weight and the weights.
 * Built exactly as TF does (bin frequencies linspace(0, 8000, 257), band edges evenly spaced in
 * mel between 125 and 7500 Hz), since the weights the model learnt against are TF's.
 */
function melFilterbank(): { start: Int32Array; weights: Float64Array[] } {
  const lo = hertzToMel(MEL_MIN_HZ);
  const hi = hertzToMel(MEL_MAX_HZ);
  const edges = Array.from({ length: MEL_BANDS + 2 }, (_, i) => lo + ((hi - lo) * i) / (MEL_BANDS + 1));
  const binMel = Array.from({ length: BINS }, (_, k) => hertzToMel((k * SAMPLE_RATE) / 2 / (BINS - 1)));
  const start = new Int32Array(MEL_BANDS);
  const weights: Float64Array[] = [];
  for (let m = 0; m < MEL_BANDS; m++) {
    const [l, c, u] = [edges[m], edges[m + 1], edges[m + 2]];
    const w: number[] = [];
    let first = -1;
    // Bin 0 (DC) is zeroed by TF's `bands_to_zero = 1`.
    for (let k = 1; k < BINS; k++) {
      const v = Math.max(0, Math.min((binMel[k] - l) / (c - l), (u - binMel[k]) / (u - c)));
      if (v > 0) {
        if (first < 0) first = k;
        w[k - first] = v;
      } else if (first >= 0) break;
    }
    start[m] = Math.max(first, 0);
    weights.push(Float64Array.from(w, (x) => x ?? 0));
  }
  return { start, weights };
}

/** In-place iterative radix-2 complex FFT of size N_FFT. */
class Fft512 {
  private readonly rev = new Uint16Array(N_FFT);
  private readonly cos = new Float64Array(N_FFT / 2);
  private readonly sin = new Float64Array(N_FFT / 2);

  constructor() {
    const bits = Math.log2(N_FFT);
    for (let i = 0; i < N_FFT; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.rev[i] = r;
    }
    for (let i = 0; i < N_FFT / 2; i++) {
      this.cos[i] = Math.cos((2 * Math.PI * i) / N_FFT);
      this.sin[i] = -Math.sin((2 * Math.PI * i) / N_FFT);
    }
  }

  transform(re: Float64Array, im: Float64Array): void {
    for (let i = 0; i < N_FFT; i++) {
      const j = this.rev[i];
      if (j > i) {
        const tr = re[i]; re[i] = re[j]; re[j] = tr;
        const ti = im[i]; im[i] = im[j]; im[j] = ti;
      }
    }
    for (let size = 2; size <= N_FFT; size <<= 1) {
      const half = size >> 1;
      const step = N_FFT / size;
      for (let s = 0; s < N_FFT; s += size) {
        for (let k = 0; k < half; k++) {
          const wr = this.cos[k * step];
          const wi = this.sin[k * step];
          const a = s + k;
          const b = a + half;
          const xr = re[b] * wr - im[b] * wi;
          const xi = re[b] * wi + im[b] * wr;
          re[b] = re[a] - xr;
          im[b] = im[a] - xi;
          re[a] += xr;
          im[a] += xi;
        }
      }
    }
  }
}

/** Stateless log-mel framing of a PCM block; one instance per thread (it owns scratch buffers). */
export class LogMel {
  private readonly window = new Float64Array(WINDOW);
  private readonly fft = new Fft512();
  private readonly re = new Float64Array(N_FFT);
  private readonly im = new Float64Array(N_FFT);
  private readonly mag = new Float64Array(BINS);
  private readonly mel = melFilterbank();

  constructor(readonly logOffset = LOG_OFFSET) {
    // Periodic Hann (TF's default `hann_window(periodic=True)`): divides by N, not N - 1.
    for (let n = 0; n < WINDOW; n++) this.window[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / WINDOW);
  }

  /** Frames whose whole window lies inside `pcm` (TF's `pad_end=False`): 1 + ⌊(len − 400) / 160⌋. */
  static frameCount(samples: number): number {
    return samples < WINDOW ? 0 : 1 + Math.floor((samples - WINDOW) / HOP);
  }

  /** Row-major [frames, 64] log-mel matrix of `pcm`. */
  frames(pcm: Float32Array): Float32Array {
    const n = LogMel.frameCount(pcm.length);
    const out = new Float32Array(n * MEL_BANDS);
    const { re, im, mag, window } = this;
    for (let f = 0; f < n; f++) {
      const off = f * HOP;
      for (let i = 0; i < WINDOW; i++) re[i] = pcm[off + i] * window[i];
      re.fill(0, WINDOW);
      im.fill(0);
      this.fft.transform(re, im);
      for (let k = 0; k < BINS; k++) mag[k] = Math.sqrt(re[k] * re[k] + im[k] * im[k]);
      for (let m = 0; m < MEL_BANDS; m++) {
        const s = this.mel.start[m];
        const w = this.mel.weights[m];
        let acc = 0;
        for (let j = 0; j < w.length; j++) acc += w[j] * mag[s + j];
        out[f * MEL_BANDS + m] = Math.log(acc + this.logOffset);
      }
    }
    return out;
  }
}

/**
 * Number of whole patches in a block of `samples` (patch i starts at sample i · hopFrames · 160
 * and needs 15600); callers zero-pad the end to a whole patch, as YAMNet does.
 */
export function patchCount(samples: number, hopFrames: number): number {
  return samples < PATCH_SAMPLES ? 0 : 1 + Math.floor((samples - PATCH_SAMPLES) / (hopFrames * HOP));
}

/** Quantises log-mel patches of `pcm` to the model's uint8 input: [patches, 96, 64] row-major. */
export function quantisedPatches(
  logMel: LogMel, pcm: Float32Array, hopFrames: number, scale: number, zeroPoint: number,
): { data: Uint8Array; count: number } {
  const count = patchCount(pcm.length, hopFrames);
  const used = count === 0 ? 0 : (count - 1) * hopFrames * HOP + PATCH_SAMPLES;
  const frames = logMel.frames(pcm.subarray(0, used));
  const size = PATCH_FRAMES * MEL_BANDS;
  const data = new Uint8Array(count * size);
  for (let p = 0; p < count; p++) {
    // Overlapping patches share frames: the STFT runs once per block, whatever the hop.
    const src = p * hopFrames * MEL_BANDS;
    for (let i = 0; i < size; i++) {
      const q = Math.round(frames[src + i] / scale) + zeroPoint;
      data[p * size + i] = q < 0 ? 0 : q > 255 ? 255 : q;
    }
  }
  return { data, count };
}
