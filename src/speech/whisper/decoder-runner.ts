import ort from 'onnxruntime-node';
import type { WhisperModel } from './model.js';
import { POSITION_IDS, paddingFeeds } from './self-padding.js';

/**
 * Thin wrapper over the merged decoder (with KV cache). The cross-attention K/V is computed once
 * per window in the prefill and then only fed back, never fetched again: fetching it every step
 * would copy ~37 MB per beam per token out of the runtime.
 */
export interface KvCache {
  /** Per layer: decoder self-attention key, value — [batch, heads, length, headDim]. */
  self: ort.Tensor[];
  /**
   * Per layer: cross-attention key, value — [1, heads, 1500, headDim], broadcast over the batch;
   * [G, heads, 1500, headDim] in a cache of G requests joined for the grouped decoder
   * (grouped-runner.ts), where rows g·n .. g·n + n - 1 belong to request g.
   */
  cross: ort.Tensor[];
  batch: number;
  length: number;
}

export interface PrefillResult {
  /** [tokens, vocab] logits of the single prompt sequence. */
  logits: Float32Array;
  cache: KvCache;
}

export class DecoderRunner {
  private readonly model: WhisperModel;
  private readonly selfFetch: string[];
  private readonly allFetch: string[];
  private readonly useCacheTrue = new ort.Tensor('bool', new Uint8Array([1]), [1]);
  private readonly useCacheFalse = new ort.Tensor('bool', new Uint8Array([0]), [1]);
  private readonly dummyEncoderStates: ort.Tensor;
  private scratchBuf = new Float32Array(0);

  /** The session takes self-padding.ts's inputs: every run feeds them (no padding unless joined). */
  readonly padded: boolean;

  constructor(model: WhisperModel) {
    this.model = model;
    this.padded = model.decoder.inputNames.includes(POSITION_IDS);
    const d = model.heads * model.headDim;
    this.dummyEncoderStates = new ort.Tensor('float32', new Float32Array(d), [1, 1, d]);
    this.selfFetch = ['logits'];
    this.allFetch = ['logits'];
    for (let l = 0; l < model.layers; l++) {
      this.selfFetch.push(`present.${l}.decoder.key`, `present.${l}.decoder.value`);
      this.allFetch.push(`present.${l}.decoder.key`, `present.${l}.decoder.value`, `present.${l}.encoder.key`, `present.${l}.encoder.value`);
    }
  }

  private emptyPast(batch: number): Record<string, ort.Tensor> {
    const { heads, headDim, layers } = this.model;
    const empty = new ort.Tensor('float32', new Float32Array(0), [batch, heads, 0, headDim]);
    const feeds: Record<string, ort.Tensor> = {};
    for (let l = 0; l < layers; l++) {
      for (const part of ['decoder', 'encoder']) {
        feeds[`past_key_values.${l}.${part}.key`] = empty;
        feeds[`past_key_values.${l}.${part}.value`] = empty;
      }
    }
    return feeds;
  }

  /** Runs the whole prompt of one sequence; optionally returns cross-attention maps of given layers. */
  async prefill(ids: number[], encoderOut: ort.Tensor, crossAttentionLayers: number[] = []): Promise<PrefillResult & { crossAttentions: ort.Tensor[] }> {
    const feeds = this.emptyPast(1);
    feeds.input_ids = new ort.Tensor('int64', BigInt64Array.from(ids, (x) => BigInt(x)), [1, ids.length]);
    feeds.encoder_hidden_states = encoderOut;
    feeds.use_cache_branch = this.useCacheFalse;
    Object.assign(feeds, this.unpadded(1, ids.length, 0));
    const fetch = [...this.allFetch, ...crossAttentionLayers.map((l) => `cross_attentions.${l}`)];
    const out = await this.model.decoder.run(feeds, fetch);
    const self: ort.Tensor[] = [];
    const cross: ort.Tensor[] = [];
    for (let l = 0; l < this.model.layers; l++) {
      self.push(out[`present.${l}.decoder.key`], out[`present.${l}.decoder.value`]);
      cross.push(out[`present.${l}.encoder.key`], out[`present.${l}.encoder.value`]);
    }
    return {
      logits: out.logits.data as Float32Array,
      cache: { self, cross, batch: 1, length: ids.length },
      crossAttentions: crossAttentionLayers.map((l) => out[`cross_attentions.${l}`]),
    };
  }

  /** The cross-attention K/V of an encoder output (per layer key, value), without a decoder pass worth the name. */
  async crossKv(encoderOut: ort.Tensor): Promise<ort.Tensor[]> {
    return (await this.prefill([this.model.tokens.sot], encoderOut)).cache.cross;
  }

  /** As `prefill`, against cross-attention K/V given instead of an encoder output. */
  async prefillCross(ids: number[], cross: ort.Tensor[]): Promise<PrefillResult> {
    const { heads, headDim, layers } = this.model;
    const empty = new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, headDim]);
    const self = Array.from({ length: 2 * layers }, () => empty);
    return this.extend(ids, { self, cross, batch: 1, length: 0 });
  }

  /**
   * Runs a whole sequence against cross-attention K/V already computed for this window (by
   * `prefill`), for the logits and cross-attention maps only. Recomputing the K/V projections of
   * 1500 encoder frames in every layer was most of word alignment's decoder cost.
   */
  async attend(ids: number[], cross: ort.Tensor[], crossAttentionLayers: number[]): Promise<{ logits: Float32Array; crossAttentions: ort.Tensor[] }> {
    const { heads, headDim, layers } = this.model;
    const emptySelf = new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, headDim]);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (x) => BigInt(x)), [1, ids.length]),
      encoder_hidden_states: this.dummyEncoderStates,
      use_cache_branch: this.useCacheTrue,
      ...this.unpadded(1, ids.length, 0),
    };
    for (let l = 0; l < layers; l++) {
      feeds[`past_key_values.${l}.decoder.key`] = emptySelf;
      feeds[`past_key_values.${l}.decoder.value`] = emptySelf;
      feeds[`past_key_values.${l}.encoder.key`] = cross[2 * l];
      feeds[`past_key_values.${l}.encoder.value`] = cross[2 * l + 1];
    }
    const out = await this.model.decoder.run(feeds, ['logits', ...crossAttentionLayers.map((l) => `cross_attentions.${l}`)]);
    return { logits: out.logits.data as Float32Array, crossAttentions: crossAttentionLayers.map((l) => out[`cross_attentions.${l}`]) };
  }

  /**
   * One token per sequence; returns [batch, vocab] logits and the grown cache. `extra`: inputs
   * a rewritten decoder adds (self-padding.ts's positions and mask).
   */
  async step(tokens: number[], cache: KvCache, extra: Record<string, ort.Tensor> = {}): Promise<{ logits: Float32Array; cache: KvCache }> {
    return this.run(BigInt64Array.from(tokens, (x) => BigInt(x)), [cache.batch, 1], cache, extra);
  }

  /**
   * Several tokens of one sequence at once, after its cache: [tokens, vocab] logits, row i the
   * distribution after tokens[i]. What checking a draft costs instead of one step per token.
   */
  async extend(tokens: number[], cache: KvCache): Promise<{ logits: Float32Array; cache: KvCache }> {
    if (cache.batch !== 1) throw new Error('extend expects a batch-1 cache');
    return this.run(BigInt64Array.from(tokens, (x) => BigInt(x)), [1, tokens.length], cache);
  }

  private async run(ids: BigInt64Array, dims: [number, number], cache: KvCache, extra: Record<string, ort.Tensor> = {}): Promise<{ logits: Float32Array; cache: KvCache }> {
    const feeds: Record<string, ort.Tensor> = {
      ...this.unpadded(dims[0], dims[1], cache.length),
      ...extra,
      input_ids: new ort.Tensor('int64', ids, dims),
      // Not read on the cached branch, but the graph still wants a tensor of the right rank.
      encoder_hidden_states: this.dummyEncoderStates,
      use_cache_branch: this.useCacheTrue,
    };
    for (let l = 0; l < this.model.layers; l++) {
      feeds[`past_key_values.${l}.decoder.key`] = cache.self[2 * l];
      feeds[`past_key_values.${l}.decoder.value`] = cache.self[2 * l + 1];
      feeds[`past_key_values.${l}.encoder.key`] = cache.cross[2 * l];
      feeds[`past_key_values.${l}.encoder.value`] = cache.cross[2 * l + 1];
    }
    const out = await this.model.decoder.run(feeds, this.selfFetch);
    const self: ort.Tensor[] = [];
    for (let l = 0; l < this.model.layers; l++) self.push(out[`present.${l}.decoder.key`], out[`present.${l}.decoder.value`]);
    return { logits: out.logits.data as Float32Array, cache: { self, cross: cache.cross, batch: dims[0], length: cache.length + dims[1] } };
  }

  /**
   * On a padded session: the positions and the (all-zero) extra mask of `rows` rows of `tokens`
   * tokens after `past` cached ones, none padded; what the original graph computes itself.
   */
  private unpadded(rows: number, tokens: number, past: number): Record<string, ort.Tensor> {
    return this.padded ? paddingFeeds(new Array<number>(rows).fill(0), 1, past, tokens) : {};
  }

  /** The cache of the first `length` tokens (a draft's unaccepted tail dropped). */
  truncate(cache: KvCache, length: number): KvCache {
    if (length === cache.length) return cache;
    const cut = (t: ort.Tensor): ort.Tensor => {
      const [b, h, n, d] = t.dims;
      const src = t.data as Float32Array;
      const dst = new Float32Array(b * h * length * d);
      for (let r = 0; r < b * h; r++) dst.set(src.subarray(r * n * d, r * n * d + length * d), r * length * d);
      return new ort.Tensor('float32', dst, [b, h, length, d]);
    };
    return { self: cache.self.map(cut), cross: cache.cross, batch: cache.batch, length };
  }

  /**
   * Batch 1 -> batch n for the self-attention cache (the prompt is shared by every beam). The
   * cross-attention K/V stays at batch 1: the graph's attention MatMuls broadcast it over the
   * beams (checked bit-identical), which saves copying and re-reading ~37 MB per extra beam.
   */
  tile(cache: KvCache, n: number): KvCache {
    if (cache.batch !== 1) throw new Error('tile expects a batch-1 cache');
    const rep = (t: ort.Tensor): ort.Tensor => {
      const src = t.data as Float32Array;
      const dst = new Float32Array(src.length * n);
      for (let i = 0; i < n; i++) dst.set(src, i * src.length);
      const dims = [...t.dims];
      dims[0] = n;
      return new ort.Tensor('float32', dst, dims);
    };
    return { self: cache.self.map(rep), cross: cache.cross, batch: n, length: cache.length };
  }

  /**
   * Row i of the result is row sources[i] of the cache (beam reordering); cross K/V is shared.
   * Rewrites `cache`'s self tensors in place, so the caller must not use `cache` afterwards: a
   * new copy every step was ~12 MB at beam 5 and 100 tokens, garbage by the next step, and those
   * pages stayed with the process (its peak RSS while decoding).
   */
  reorder(cache: KvCache, sources: number[]): KvCache {
    if (sources.every((s, i) => s === i) && sources.length === cache.batch) return cache;
    if (sources.length > cache.batch) throw new Error(`reorder: ${sources.length} rows from a cache of ${cache.batch}`);
    // Rows read by a row that changes are saved first: a row may be overwritten before it is read.
    const moved = sources.flatMap((s, i) => (s === i ? [] : [i]));
    const saved = [...new Set(moved.map((i) => sources[i]))];
    const pick = (t: ort.Tensor): ort.Tensor => {
      const data = t.data as Float32Array;
      const row = data.length / cache.batch;
      const scratch = this.scratch(saved.length * row);
      saved.forEach((s, k) => scratch.set(data.subarray(s * row, (s + 1) * row), k * row));
      for (const i of moved) {
        const k = saved.indexOf(sources[i]);
        data.set(scratch.subarray(k * row, (k + 1) * row), i * row);
      }
      const dims = [...t.dims];
      dims[0] = sources.length;
      return new ort.Tensor('float32', sources.length === cache.batch ? data : data.subarray(0, sources.length * row), dims);
    };
    return { self: cache.self.map(pick), cross: cache.cross, batch: sources.length, length: cache.length };
  }

  /**
   * A search is done with `cache` (its last): nothing to do here; a runner that joins the
   * searches of several windows (lockstep.ts) stops waiting for this one.
   */
  release(_cache: KvCache): void {}

  /** A reused buffer of at least `size` floats (reorder's rows in flight; synchronous use only). */
  private scratch(size: number): Float32Array {
    if (this.scratchBuf.length < size) this.scratchBuf = new Float32Array(Math.max(size, 2 * this.scratchBuf.length));
    return this.scratchBuf;
  }
}
