/**
 * Mixed-radix complex FFT for the sizes Whisper needs (n_fft = 400 = 4·4·5·5), which power-of-two
 * FFT libraries cannot do. Decimation in time, after the structure of KISS FFT: O(n · Σ factors).
 */
class ComplexFft {
  readonly n: number;
  private readonly factors: number[];
  private readonly remaining: number[];
  private readonly twRe: Float64Array;
  private readonly twIm: Float64Array;
  private readonly scratchRe: Float64Array;
  private readonly scratchIm: Float64Array;

  constructor(n: number) {
    this.n = n;
    this.factors = factorize(n);
    this.remaining = this.factors.map((_, fi) => this.factors.slice(fi).reduce((a, b) => a * b, 1));
    this.twRe = new Float64Array(n);
    this.twIm = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.twRe[i] = Math.cos((-2 * Math.PI * i) / n);
      this.twIm[i] = Math.sin((-2 * Math.PI * i) / n);
    }
    const maxFactor = Math.max(...this.factors);
    this.scratchRe = new Float64Array(maxFactor);
    this.scratchIm = new Float64Array(maxFactor);
  }

  forward(inRe: Float64Array, inIm: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
    this.work(outRe, outIm, 0, inRe, inIm, 0, 1, 0);
  }

  private work(
    outRe: Float64Array, outIm: Float64Array, outOff: number,
    inRe: Float64Array, inIm: Float64Array, inOff: number, fstride: number, fi: number,
  ): void {
    const p = this.factors[fi];
    const m = this.remaining[fi] / p;
    if (m === 1) {
      for (let j = 0; j < p; j++) {
        outRe[outOff + j] = inRe[inOff + j * fstride];
        outIm[outOff + j] = inIm[inOff + j * fstride];
      }
    } else {
      for (let j = 0; j < p; j++) {
        this.work(outRe, outIm, outOff + j * m, inRe, inIm, inOff + j * fstride, fstride * p, fi + 1);
      }
    }
    this.butterfly(outRe, outIm, outOff, fstride, m, p);
  }


  private butterfly(re: Float64Array, im: Float64Array, off: number, fstride: number, m: number, p: number): void {
    const n = this.n;
    const sRe = this.scratchRe;
    const sIm = this.scratchIm;
    for (let u = 0; u < m; u++) {
      for (let q = 0; q < p; q++) {
        sRe[q] = re[off + u + q * m];
        sIm[q] = im[off + u + q * m];
      }
      for (let q1 = 0; q1 < p; q1++) {
        const k = u + q1 * m;
        let accRe = sRe[0];
        let accIm = sIm[0];
        const step = (fstride * k) % n;
        let t = 0;
        for (let q = 1; q < p; q++) {
          t += step;
          if (t >= n) t -= n;
          const wr = this.twRe[t];
          const wi = this.twIm[t];
          accRe += sRe[q] * wr - sIm[q] * wi;
          accIm += sRe[q] * wi + sIm[q] * wr;
        }
        re[off + k] = accRe;
        im[off + k] = accIm;
      }
    }
  }
}

function factorize(n: number): number[] {
  const out: number[] = [];
  let r = n;
  for (const f of [4, 2, 3, 5]) {
    while (r % f === 0) {
      out.push(f);
      r /= f;
    }
  }
  for (let f = 7; r > 1; f += 2) {
    while (r % f === 0) {
      out.push(f);
      r /= f;
    }
  }
  return out.length ? out : [1];
}

/**
 * Real-input FFT of even length n through one complex FFT of length n/2 (even samples as real,
 * odd as imaginary parts) and a split step: half the work of a complex transform.
 */
export class RealFft {
  readonly n: number;
  private readonly half: ComplexFft;
  private readonly zRe: Float64Array;
  private readonly zIm: Float64Array;
  private readonly ZRe: Float64Array;
  private readonly ZIm: Float64Array;
  private readonly wRe: Float64Array;
  private readonly wIm: Float64Array;

  constructor(n: number) {
    if (n % 2 !== 0) throw new Error('RealFft needs an even length');
    this.n = n;
    const h = n / 2;
    this.half = new ComplexFft(h);
    this.zRe = new Float64Array(h);
    this.zIm = new Float64Array(h);
    this.ZRe = new Float64Array(h);
    this.ZIm = new Float64Array(h);
    this.wRe = new Float64Array(h + 1);
    this.wIm = new Float64Array(h + 1);
    for (let k = 0; k <= h; k++) {
      this.wRe[k] = Math.cos((-2 * Math.PI * k) / n);
      this.wIm[k] = Math.sin((-2 * Math.PI * k) / n);
    }
  }

  /** Bins 0..n/2 of the transform of a real input: |X[k]|^2 into `power` (length n/2 + 1). */
  powerSpectrum(input: Float64Array, power: Float64Array): void {
    const h = this.n / 2;
    for (let k = 0; k < h; k++) {
      this.zRe[k] = input[2 * k];
      this.zIm[k] = input[2 * k + 1];
    }
    this.half.forward(this.zRe, this.zIm, this.ZRe, this.ZIm);
    for (let k = 0; k <= h; k++) {
      const a = k === h ? 0 : k;
      const b = k === 0 ? 0 : h - k;
      const zr = this.ZRe[a];
      const zi = this.ZIm[a];
      const cr = this.ZRe[b];
      const ci = -this.ZIm[b]; // conj(Z[h-k])
      const er = 0.5 * (zr + cr); // even part
      const ei = 0.5 * (zi + ci);
      const dr = zr - cr; // odd part times 2i
      const di = zi - ci;
      const or = 0.5 * di; // (Z - conj) / (2i)
      const oi = -0.5 * dr;
      const wr = this.wRe[k];
      const wi = this.wIm[k];
      const xr = er + (wr * or - wi * oi);
      const xi = ei + (wr * oi + wi * or);
      power[k] = xr * xr + xi * xi;
    }
  }
}
