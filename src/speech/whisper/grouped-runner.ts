import ort from 'onnxruntime-node';
import { DecoderRunner, type KvCache } from './decoder-runner.js';
import type { WhisperModel } from './model.js';
import { paddingFeeds } from './self-padding.js';

/**
 * One decoder step for several requests ("groups") at once, on the session of
 * grouped-decoder.ts: G groups of n rows each (n = beams, the same for every group), rows
 * group-major (row = g·n + j).
 *
 * Self-cache lengths: the export takes every row's position from the shared cache length and has
 * no attention mask, so on a session built without `padding` every group's self cache must
 * hold the same number of tokens (join refuses others). On a session built with `padding`
 * (self-padding.ts) stepGroups left-pads the shorter caches to the longest and feeds each row's
 * own positions and a mask over the padding, so requests can share a run whatever their lengths.
 *
 * Cross K/V: `stackCross` copies the groups' [1, heads, T, hd] tensors into one [G, heads, T, hd]
 * per layer (~37 MB per group for base); build it once per set of groups and pass it to every
 * step while the set does not change. When requests come and go, CrossSlots (cross-slots.ts)
 * keeps the stack up to date copying only the one joining. T must be equal for all groups
 * (1500 with PaddedCross).
 */
export class GroupedRunner {
  /** A DecoderRunner over the grouped session: step / reorder work on joined caches as is. */
  readonly runner: DecoderRunner;

  /** The session takes self-padding.ts's inputs (built with `padding`). */
  get padded(): boolean {
    return this.runner.padded;
  }

  constructor(model: WhisperModel, groupedSession: ort.InferenceSession) {
    this.runner = new DecoderRunner({ ...model, decoder: groupedSession });
  }

  /** Per layer key, value: the groups' cross K/V stacked along batch, [G, heads, T, hd]. */
  static stackCross(crosses: ort.Tensor[][]): ort.Tensor[] {
    if (crosses.length === 0) throw new Error('stackCross: no groups');
    return crosses[0].map((first, i) => {
      const [b, h, t, d] = first.dims;
      if (b !== 1) throw new Error(`stackCross: cross K/V of batch ${b}, expected 1`);
      const size = h * t * d;
      const out = new Float32Array(size * crosses.length);
      crosses.forEach((cross, g) => {
        const x = cross[i];
        if (x.dims.join() !== first.dims.join()) {
          throw new Error(`stackCross: group ${g} tensor ${i} is [${x.dims.join(', ')}], group 0's [${first.dims.join(', ')}]`);
        }
        out.set(x.data as Float32Array, g * size);
      });
      return new ort.Tensor('float32', out, [crosses.length, h, t, d]);
    });
  }

  /**
   * The groups' self caches concatenated along batch, with `cross` (from stackCross, in the same
   * group order) as the cross K/V: a cache `runner.step` advances for all groups at once. A
   * caller whose set of groups does not change can keep stepping the joined cache (and reorder
   * beams with `runner.reorder`, rows group-major) instead of joining every step.
   */
  static join(caches: KvCache[], cross: ort.Tensor[]): KvCache {
    if (caches.length === 0) throw new Error('join: no groups');
    const { batch: n, length } = caches[0];
    caches.forEach((c, g) => {
      if (c.batch !== n) throw new Error(`join: group ${g} has ${c.batch} rows, group 0 ${n} (all groups need the same beam count)`);
      if (c.length !== length) throw new Error(`join: group ${g} holds ${c.length} tokens, group 0 ${length} (positions come from the cache length)`);
    });
    if (cross[0]?.dims[0] !== caches.length) throw new Error(`join: cross K/V stacks ${cross[0]?.dims[0]} groups for ${caches.length} caches`);
    if (caches.length === 1) return { ...caches[0], cross };
    const self = caches[0].self.map((first, i) => {
      const size = (first.data as Float32Array).length;
      const out = new Float32Array(size * caches.length);
      caches.forEach((c, g) => out.set(c.self[i].data as Float32Array, g * size));
      const dims = [...first.dims];
      dims[0] = n * caches.length;
      return new ort.Tensor('float32', out, dims);
    });
    return { self, cross, batch: n * caches.length, length };
  }

  /**
   * As `join`, for groups whose caches differ in length: each is left-padded with zeros to the
   * longest. `pads[g]`: the padding in front of group g's tokens. For a session built with
   * `padding` only (feed self-padding.ts's `paddingFeeds(pads, ...)` with every step).
   */
  static joinPadded(caches: KvCache[], cross: ort.Tensor[]): { cache: KvCache; pads: number[] } {
    const length = Math.max(...caches.map((c) => c.length));
    const pads = caches.map((c) => length - c.length);
    if (pads.every((p) => p === 0)) return { cache: GroupedRunner.join(caches, cross), pads };
    const n = caches[0].batch;
    caches.forEach((c, g) => {
      if (c.batch !== n) throw new Error(`joinPadded: group ${g} has ${c.batch} rows, group 0 ${n} (all groups need the same beam count)`);
    });
    if (cross[0]?.dims[0] !== caches.length) throw new Error(`joinPadded: cross K/V stacks ${cross[0]?.dims[0]} groups for ${caches.length} caches`);
    const self = caches[0].self.map((first, i) => {
      const [, h, , d] = first.dims;
      const out = new Float32Array(caches.length * n * h * length * d);
      caches.forEach((c, g) => {
        const src = c.self[i].data as Float32Array;
        const len = c.length;
        // Every (row, head) block of `len` positions goes to the end of its `length` block.
        for (let r = 0; r < n * h; r++) out.set(src.subarray(r * len * d, (r + 1) * len * d), ((g * n * h + r) * length + pads[g]) * d);
      });
      return new ort.Tensor('float32', out, [caches.length * n, h, length, d]);
    });
    return { cache: { self, cross, batch: caches.length * n, length }, pads };
  }

  /**
   * A joined cache cut back into its groups, each with its own cross K/V `crosses[g]` again, so
   * it can go on alone with the unmodified runner: views, no copy, except for groups that had
   * `pads[g]` positions of padding in front, which are cut off (a copy).
   */
  static split(cache: KvCache, crosses: ort.Tensor[][], pads: number[] = []): KvCache[] {
    const groups = crosses.length;
    const n = cache.batch / groups;
    if (!Number.isInteger(n)) throw new Error(`split: ${cache.batch} rows into ${groups} groups`);
    return crosses.map((cross, g) => {
      const pad = pads[g] ?? 0;
      return {
        self: cache.self.map((t) => {
          const data = t.data as Float32Array;
          const size = data.length / groups;
          const dims = [...t.dims];
          dims[0] = n;
          const own = data.subarray(g * size, (g + 1) * size);
          if (pad === 0) return new ort.Tensor('float32', own, dims);
          const [, h, len, d] = t.dims;
          const keep = len - pad;
          const out = new Float32Array(n * h * keep * d);
          for (let r = 0; r < n * h; r++) out.set(own.subarray((r * len + pad) * d, (r + 1) * len * d), r * keep * d);
          dims[2] = keep;
          return new ort.Tensor('float32', out, dims);
        }),
        cross,
        batch: n,
        length: cache.length - pad,
      };
    });
  }

  /**
   * One token per row for every group: `tokens` has G·n entries, group-major; `caches[g]` is group
   * g's cache (its own batch-1 cross K/V, n rows); `cross` is stackCross of the same groups in the
   * same order. Returns per group its [n, vocab] logits (views) and grown cache. On a session
   * built with `padding` the caches may differ in length.
   */
  async stepGroups(tokens: number[], caches: KvCache[], cross: ort.Tensor[]): Promise<{ logits: Float32Array[]; caches: KvCache[] }> {
    const { cache: joined, pads } = this.padded ? GroupedRunner.joinPadded(caches, cross) : { cache: GroupedRunner.join(caches, cross), pads: [] };
    if (tokens.length !== joined.batch) throw new Error(`stepGroups: ${tokens.length} tokens for ${joined.batch} rows`);
    const extra = this.padded ? paddingFeeds(caches.map((_, g) => pads[g] ?? 0), joined.batch / caches.length, joined.length) : {};
    const out = await this.runner.step(tokens, joined, extra);
    const per = out.logits.length / caches.length;
    return {
      logits: caches.map((_, g) => out.logits.subarray(g * per, (g + 1) * per)),
      caches: GroupedRunner.split(out.cache, caches.map((c) => c.cross), pads),
    };
  }
}
