import type ort from 'onnxruntime-node';
import { DecoderRunner, type KvCache } from './decoder-runner.js';
import { GroupedRunner } from './grouped-runner.js';
import { CrossSlots } from './cross-slots.js';
import type { WhisperModel } from './model.js';

/**
 * Decoder steps of concurrent requests in one inference process, run as one batch: each search
 * (search.ts) still calls `step` for its own beams, but calls made while a run is in flight, or
 * in the same turn of the event loop, are joined into one run of the grouped decoder
 * (grouped-decoder.ts, built with `padding`, so caches of different lengths can share a run).
 * One grouped run of 4-8 requests costs about half of their separate runs on 2 cores
 * (bench/grouped-decoder.ts): the decoder's fixed cost per run and its weights are shared.
 *
 * Requests are joined only with requests of the same number of rows (beams): the grouped graph
 * splits rows evenly between requests. Their cross K/V is stacked in CrossSlots, one per row
 * count, which copies a request's K/V (~37 MB for base) when it joins. A set is kept between
 * batches so that requests stepping together are not copied again; one that has left is removed
 * when the next batch of its row count forms, so a set holds at most its largest batch.
 */
interface PendingStep {
  tokens: number[];
  cache: KvCache;
  resolve: (r: { logits: Float32Array; cache: KvCache }) => void;
  reject: (err: unknown) => void;
}

export class BatchingDecoderRunner extends DecoderRunner {
  private pending: PendingStep[] = [];
  private running: Promise<void> | undefined;
  private readonly grouped: GroupedRunner;
  /** Per rows-per-request, the stacked cross K/V of the last batch with that many rows. */
  private readonly slots = new Map<number, CrossSlots<ort.Tensor[]>>();
  /** Runs made and requests stepped in them, for tests and the bench. */
  readonly stats = { runs: 0, steps: 0 };

  /** `model.decoder`: a grouped decoder session built with `padding`. `maxGroups`: requests per run at most. */
  constructor(model: WhisperModel, private readonly maxGroups: number) {
    super(model);
    if (!this.padded) throw new Error('BatchingDecoderRunner needs the grouped decoder built with padding');
    this.grouped = new GroupedRunner(model, model.decoder);
  }

  override step(tokens: number[], cache: KvCache, extra: Record<string, ort.Tensor> = {}): Promise<{ logits: Float32Array; cache: KvCache }> {
    // Already joined, or fed its own padding: not ours to batch.
    if (Object.keys(extra).length > 0 || cache.cross[0].dims[0] !== 1 || this.maxGroups <= 1) return super.step(tokens, cache, extra);
    return new Promise((resolve, reject) => {
      this.pending.push({ tokens, cache, resolve, reject });
      // Steps asked for in this turn of the event loop go together; so do those asked for while a
      // run is in flight (they start when it ends).
      this.running ??= new Promise<void>((r) => setImmediate(r)).then(() => this.drain());
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        const byRows = new Map<number, PendingStep[]>();
        for (const p of batch) {
          const same = byRows.get(p.cache.batch);
          if (same === undefined) byRows.set(p.cache.batch, [p]);
          else same.push(p);
        }
        for (const [rows, steps] of byRows) {
          for (let i = 0; i < steps.length; i += this.maxGroups) await this.runBatch(rows, steps.slice(i, i + this.maxGroups));
        }
      }
    } finally {
      this.running = undefined;
      if (this.pending.length > 0) this.running = this.drain();
    }
  }

  private async runBatch(rows: number, steps: PendingStep[]): Promise<void> {
    this.stats.runs++;
    this.stats.steps += steps.length;
    try {
      const wanted = new Set(steps.map((s) => s.cache.cross));
      // One request (or, never seen, two steps of one request: one cross K/V can fill one slot).
      if (wanted.size < 2 || wanted.size < steps.length) {
        for (const s of steps) s.resolve(await super.step(s.tokens, s.cache));
        return;
      }
      let slots = this.slots.get(rows);
      if (slots === undefined) {
        slots = new CrossSlots<ort.Tensor[]>(2);
        this.slots.set(rows, slots);
      }
      for (const key of [...slots.keys]) if (!wanted.has(key)) slots.delete(key);
      for (const key of wanted) if (!slots.has(key)) slots.add(key, key);
      // The slots' order is the batch's group order.
      const ordered = slots.keys.map((key) => steps.find((s) => s.cache.cross === key)!);
      const out = await this.grouped.stepGroups(ordered.flatMap((s) => s.tokens), ordered.map((s) => s.cache), slots.tensors());
      ordered.forEach((s, g) => s.resolve({ logits: out.logits[g], cache: out.caches[g] }));
    } catch (err) {
      for (const s of steps) s.reject(err);
    }
  }
}
