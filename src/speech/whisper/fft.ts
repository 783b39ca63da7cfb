/**
 * Mixed-radix complex FFT for the sizes Whisper needs (n_fft = 400 = 4·4·5·5), which power-of-two
 * FFT libraries cannot do. Decimation in time, after the structure of KISS FFT: O(n · Σ factors).
 */
export class MixedRadixFft {
  readonly n: number;
  private readonly factors: number[];
  private readonly twRe: Float64Array;
  private readonly twIm: Float64Array;
  private readonly scratchRe: Float64Array;
  private readonly scratchIm: Float64Array;

  constructor(n: number) {
    this.n = n;
    this.factors = factorize(n);
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

  /** Forward transform of a real input of length n into (outRe, outIm), each length n. */
  realForward(input: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
    this.work(outRe, outIm, 0, input, 0, 1, 0);
  }

  private work(
    outRe: Float64Array, outIm: Float64Array, outOff: number,
    input: Float64Array, inOff: number, fstride: number, fi: number,
  ): void {
    const p = this.factors[fi];
    const m = this.remaining(fi) / p;
    if (m === 1) {
      for (let j = 0; j < p; j++) {
        outRe[outOff + j] = input[inOff + j * fstride];
        outIm[outOff + j] = 0;
      }
    } else {
      for (let j = 0; j < p; j++) {
        this.work(outRe, outIm, outOff + j * m, input, inOff + j * fstride, fstride * p, fi + 1);
      }
    }
    this.butterfly(outRe, outIm, outOff, fstride, m, p);
  }

  private remaining(fi: number): number {
    let r = 1;
    for (let i = fi; i < this.factors.length; i++) r *= this.factors[i];
    return r;
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
