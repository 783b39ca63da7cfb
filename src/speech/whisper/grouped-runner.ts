import ort from 'onnxruntime-node';
import { DecoderRunner, type KvCache } from './decoder-runner.js';
import type { WhisperModel } from './model.js';

/**
 * One decoder step for several requests ("groups") at once, on the session of
 * grouped-decoder.ts: G groups of n rows each (n = beams, the same for every group), rows
 * group-major (row = g·n + j).
 *
 * Requirement the caller owns: every group's self cache must hold the same number of tokens.
 * The decoder takes its positions from the cache length and has no attention mask, so a
 * shorter group would be decoded at the wrong positions and attend to another's padding.
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
   * A joined cache cut back into its groups (views, no copy), each with its own cross K/V
   * `crosses[g]` again, so it can go on alone with the unmodified runner.
   */
  static split(cache: KvCache, crosses: ort.Tensor[][]): KvCache[] {
    const groups = crosses.length;
    const n = cache.batch / groups;
    if (!Number.isInteger(n)) throw new Error(`split: ${cache.batch} rows into ${groups} groups`);
    return crosses.map((cross, g) => ({
      self: cache.self.map((t) => {
        const data = t.data as Float32Array;
        const size = data.length / groups;
        const dims = [...t.dims];
        dims[0] = n;
        return new ort.Tensor('float32', data.subarray(g * size, (g + 1) * size), dims);
      }),
      cross,
      batch: n,
      length: cache.length,
    }));
  }

  /**
   * One token per row for every group: `tokens` has G·n entries, group-major; `caches[g]` is group
   * g's cache (its own batch-1 cross K/V, n rows); `cross` is stackCross of the same groups in the
   * same order. Returns per group its [n, vocab] logits (views) and grown cache.
   */
  async stepGroups(tokens: number[], caches: KvCache[], cross: ort.Tensor[]): Promise<{ logits: Float32Array[]; caches: KvCache[] }> {
    const joined = GroupedRunner.join(caches, cross);
    if (tokens.length !== joined.batch) throw new Error(`stepGroups: ${tokens.length} tokens for ${joined.batch} rows`);
    const out = await this.runner.step(tokens, joined);
    const per = out.logits.length / caches.length;
    return {
      logits: caches.map((_, g) => out.logits.subarray(g * per, (g + 1) * per)),
      caches: GroupedRunner.split(out.cache, caches.map((c) => c.cross)),
    };
  }
}
