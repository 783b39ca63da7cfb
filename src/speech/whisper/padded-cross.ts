import ort from 'onnxruntime-node';
import type { DecoderRunner } from './decoder-runner.js';

/**
 * Cross-attention K/V for a short encoder output padded with a silent window's (what the
 * decoder would compute from ShortEncoder.encodePadded's output), made cheaply:
 *
 * - K/V are per-position projections of the encoder output, so the padding's are computed once
 *   (on first use) and only the audio's positions each time. Projecting all 1500 positions in
 *   every layer cost 100-150 ms a request, more than the short encoder itself.
 * - The 12 spliced tensors (~37 MB for base) are reused between requests: allocating and
 *   page-faulting them anew cost 10-40 ms. A reused set only has the positions the previous
 *   request wrote past this one's audio put back to the padding's values.
 */
export class PaddedCross {
  private silent: Promise<ort.Tensor[]> | undefined;
  private readonly free: Slot[] = [];

  constructor(
    private readonly runner: DecoderRunner,
    /** The encoder output of a silent 30 s window, [1, 1500, d_model]. */
    private readonly silence: () => Promise<ort.Tensor>,
    /** Sets kept for reuse: one per request the worker may interleave. */
    private readonly keep = 4,
  ) {}

  /**
   * Forgets the padding's K/V and the sets kept for reuse (~74 MB for base after one request);
   * the next `acquire` computes the padding again. For a process that may never see another
   * short-context request: held, those buffers kept the allocator from reusing their memory
   * for full-window requests. Sets in use stay valid.
   */
  drop(): void {
    this.silent = undefined;
    this.free.length = 0;
  }

  /** Cross K/V for `head` ([1, n, d_model], n <= 1500); `release` once the window is decoded. */
  async acquire(head: ort.Tensor): Promise<{ cross: ort.Tensor[]; release: () => void }> {
    this.silent ??= this.silence().then((s) => this.runner.crossKv(s));
    const silent = await this.silent;
    const own = await this.runner.crossKv(head);
    const n = own[0].dims[2];
    const total = silent[0].dims[2];
    if (n >= total) return { cross: own, release: () => undefined };
    const slot = this.free.pop() ?? { bufs: silent.map((t) => new Float32Array(t.data as Float32Array)), dirty: 0 };
    silent.forEach((pad, i) => {
      const [b, h, , d] = pad.dims;
      const buf = slot.bufs[i];
      const src = own[i].data as Float32Array;
      const padData = pad.data as Float32Array;
      for (let r = 0; r < b * h; r++) {
        const row = r * total * d;
        if (slot.dirty > n) buf.set(padData.subarray(row + n * d, row + slot.dirty * d), row + n * d);
        buf.set(src.subarray(r * n * d, (r + 1) * n * d), row);
      }
    });
    slot.dirty = n;
    let released = false;
    return {
      cross: silent.map((pad, i) => new ort.Tensor('float32', slot.bufs[i], pad.dims)),
      release: () => {
        if (released) return;
        released = true;
        if (this.free.length < this.keep) this.free.push(slot);
      },
    };
  }
}

interface Slot {
  bufs: Float32Array[];
  /** Positions [0, dirty) hold the last request's audio instead of the padding. */
  dirty: number;
}
