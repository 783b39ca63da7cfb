import ort from 'onnxruntime-node';
import { DecoderRunner, type KvCache } from './decoder-runner.js';
import { GroupedRunner } from './grouped-runner.js';
import type { WhisperModel } from './model.js';

/**
 * The searches of several windows of one job decoded in lockstep: one run of the grouped decoder
 * (grouped-decoder.ts, without padding) per step for all of them, on one joined self cache kept
 * from step to step, as faster-whisper's batched pipeline decodes its chunks. Measured at 4
 * requests of 5 beams (bench/grouped-decoder.ts), such a run costs half of the 4 separate ones
 * (38 against 76 ms); the request-level step batcher (step-batcher.ts) gets much less of that,
 * because it joins and splits the caches every step and its requests reach their steps out of
 * phase.
 *
 * Each window keeps its own search (search.ts) and calls its own member runner
 * (`runners[i]`) as usual: `tile` enlists it, `step` waits until every enlisted window still
 * searching has asked for its step, then one run serves them all; `reorder` is applied to the
 * joined cache at the next run; `release` (the search's end) takes the window out. A window
 * whose prompt length or beam count differs from the others', or whose beam count changes
 * (fewer candidates than beams), goes on alone with its own copy of its rows. Everything else a
 * member runner is asked (prefill, word alignment, a fallback search after the first) runs as on
 * a plain runner.
 *
 * The model's decoder must be the grouped graph without padding: for one request it computes
 * what the shipped graph does, bit for bit. In a joined run the rows of other windows move a
 * window's logits a little, as the beams of one request already do (activations are quantised
 * per tensor).
 */

const HANDLE = Symbol('lockstep member');

interface MemberCache extends KvCache {
  [HANDLE]: Member;
}

interface PendingStep {
  tokens: number[];
  resolve: (r: { logits: Float32Array; cache: KvCache }) => void;
  reject: (err: unknown) => void;
}

/** Where one window is in the set. */
type MemberState =
  /** Not searching yet (encoding, prefilling): the first joined run waits for it. */
  | 'coming'
  /** Its first search has begun: its rows are (or will be at the next run) in the joined cache. */
  | 'enlisted'
  /** Left (its search ended, it went on alone, or its request failed): never waited for again. */
  | 'gone';

class Member {
  state: MemberState = 'coming';
  /** The prompt's cache (batch 1) it was tiled from, and how many rows. */
  prompt: KvCache | undefined;
  rows = 0;
  pending: PendingStep | undefined;
  /** Its beam reorder since the last run (row j of its next rows is row sources[j] of its last). */
  sources: number[] | undefined;
  constructor(readonly index: number) {}
}

export class LockstepDecoding {
  /** One runner per window: give window i's transcription `runners[i]` for its searches. */
  readonly runners: DecoderRunner[];
  /** Joined runs, and windows that went on alone: for tests. */
  readonly stats = { runs: 0, alone: 0 };
  private readonly members: Member[];
  private readonly runner: DecoderRunner;
  /** Members with rows in `joint`, in row order (member `order[g]` owns rows g·n .. g·n + n - 1). */
  private order: Member[] = [];
  private joint: KvCache | undefined;
  /** The joined cross K/V's buffers per layer key and value, [G, heads, T, hd] at the start. */
  private stack: Float32Array[] = [];
  private running = false;

  constructor(model: WhisperModel, windows: number) {
    this.runner = new DecoderRunner(model);
    this.members = Array.from({ length: windows }, (_, i) => new Member(i));
    this.runners = this.members.map((m) => new MemberRunner(model, this, m));
  }

  /** Window i will not search any more (its transcription ended, however). */
  leave(i: number): void {
    this.drop(this.members[i]);
  }

  /** @internal MemberRunner.tile */
  enlist(member: Member, prompt: KvCache, rows: number): KvCache | undefined {
    if (member.state !== 'coming' || prompt.batch !== 1) return undefined;
    member.state = 'enlisted';
    member.prompt = prompt;
    member.rows = rows;
    return this.handle(member, prompt.length);
  }

  /** @internal MemberRunner.step */
  step(member: Member, tokens: number[]): Promise<{ logits: Float32Array; cache: KvCache }> {
    return new Promise((resolve, reject) => {
      member.pending = { tokens, resolve, reject };
      this.kick();
    });
  }

  /** @internal MemberRunner.reorder: undefined when the member must go on alone (`detach`). */
  reorder(member: Member, cache: MemberCache, sources: number[]): KvCache | undefined {
    if (sources.length !== member.rows || member.sources !== undefined) return undefined;
    member.sources = sources;
    return cache;
  }

  /** @internal Member `m`'s rows as a cache of its own (its pending reorder applied), out of the set. */
  detach(member: Member, length: number): KvCache {
    const prompt = member.prompt as KvCache;
    let own: KvCache;
    const g = this.order.indexOf(member);
    if (g < 0 || this.joint === undefined) {
      own = this.runner.tile(prompt, member.rows);
    } else {
      const n = member.rows;
      const rows = Array.from({ length: n }, (_, j) => g * n + (member.sources?.[j] ?? j));
      own = { self: this.joint.self.map((t) => copyRows(t, rows)), cross: prompt.cross, batch: n, length: this.joint.length };
    }
    if (own.length !== length) throw new Error(`lockstep: member ${member.index} holds ${own.length} tokens, its search ${length}`);
    member.sources = undefined;
    this.drop(member);
    this.stats.alone++;
    return own;
  }

  /** @internal */
  isOwn(member: Member, cache: KvCache): cache is MemberCache {
    return (cache as Partial<MemberCache>)[HANDLE] === member && member.state === 'enlisted';
  }

  private handle(member: Member, length: number): MemberCache {
    const prompt = member.prompt as KvCache;
    return { self: [], cross: prompt.cross, batch: member.rows, length, [HANDLE]: member };
  }

  private drop(member: Member): void {
    if (member.state === 'gone') return;
    member.state = 'gone';
    member.pending?.reject(new Error('lockstep: member left with a step pending'));
    member.pending = undefined;
    this.kick();
  }

  /** Runs when every member still searching, or about to, has a step waiting. */
  private kick(): void {
    if (this.running) return;
    const live = this.members.filter((m) => m.state !== 'gone');
    if (live.length === 0) {
      this.release();
      return;
    }
    if (live.some((m) => m.state === 'coming' || m.pending === undefined)) return;
    this.running = true;
    // A turn later: the caller of step() is still on its way to awaiting it.
    void Promise.resolve().then(() => this.runJoined(live)).finally(() => {
      this.running = false;
      this.kick();
    });
  }

  private async runJoined(live: Member[]): Promise<void> {
    try {
      if (this.joint === undefined) this.form(live);
      else this.compact();
      const joint = this.joint as KvCache | undefined;
      if (joint === undefined) return;
      const tokens = this.order.flatMap((m) => (m.pending as PendingStep).tokens);
      this.stats.runs++;
      const out = await this.runner.step(tokens, joint);
      this.joint = out.cache;
      const per = out.logits.length / this.order.length;
      this.order.forEach((m, g) => {
        const p = m.pending as PendingStep;
        m.pending = undefined;
        p.resolve({ logits: out.logits.subarray(g * per, (g + 1) * per), cache: this.handle(m, out.cache.length) });
      });
    } catch (err) {
      for (const m of live) {
        const p = m.pending;
        m.pending = undefined;
        m.state = 'gone';
        p?.reject(err);
      }
      this.release();
    }
  }

  /**
   * The first run: the members whose prompts are as long and as wide as most others' are joined;
   * the rest (and a lone one) step alone from here on.
   */
  private form(live: Member[]): void {
    const key = (m: Member): string => `${m.rows}x${(m.prompt as KvCache).length}`;
    const counts = new Map<string, number>();
    for (const m of live) counts.set(key(m), (counts.get(key(m)) ?? 0) + 1);
    const [best] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
    const joined = live.filter((m) => key(m) === best);
    for (const m of live) if (joined.length < 2 || !joined.includes(m)) this.alone(m);
    if (joined.length < 2) return;
    const prompts = joined.map((m) => m.prompt as KvCache);
    const stacked = GroupedRunner.stackCross(prompts.map((p) => p.cross));
    this.stack = stacked.map((t) => t.data as Float32Array);
    this.order = joined;
    this.joint = GroupedRunner.join(prompts.map((p) => this.runner.tile(p, joined[0].rows)), stacked);
    // Each window's own K/V (37 MB for base) is no longer needed beside its place in the stack.
    joined.forEach((m, g) => this.pointAt(m, g));
  }

  /**
   * Member `m`'s cross K/V, as its transcription holds it (the cache its search was tiled from,
   * whose `cross` word timings read after the search): views of stack slot `slot`, in place of
   * the tensors the prefill gave. Rewriting the caller's array is what saves a copy per window.
   */
  private pointAt(m: Member, slot: number): void {
    const cross = (m.prompt as KvCache).cross;
    cross.forEach((t, i) => {
      const size = (t.data as Float32Array).length;
      cross[i] = new ort.Tensor('float32', this.stack[i].subarray(slot * size, (slot + 1) * size), t.dims);
    });
  }

  /** Member `m`'s cross K/V copied out of the stack, before its slot is given to another window. */
  private takeOut(m: Member): void {
    const cross = (m.prompt as KvCache).cross;
    cross.forEach((t, i) => {
      cross[i] = new ort.Tensor('float32', (t.data as Float32Array).slice(), t.dims);
    });
  }

  /** Before a later run: members that left lose their rows, and every pending beam reorder is applied. */
  private compact(): void {
    const joint = this.joint as KvCache;
    const n = joint.batch / this.order.length;
    const kept = this.order.filter((m) => m.state === 'enlisted');
    const sources = kept.flatMap((m) => {
      const g = this.order.indexOf(m);
      return Array.from({ length: n }, (_, j) => g * n + (m.sources?.[j] ?? j));
    });
    for (const m of kept) m.sources = undefined;
    if (kept.length === 0) {
      this.release();
      return;
    }
    // In place, and with fewer windows their rows moved to the front (reorder takes fewer sources).
    const reordered = this.runner.reorder(joint, sources);
    if (kept.length === this.order.length) {
      this.joint = reordered;
      return;
    }
    // Fewer windows: their cross K/V moved to the front in place too.
    // The slots kept windows move into (all below kept.length) lose what they hold: a window
    // that left from one of them takes its K/V out first (its word timings may still read it).
    this.order.forEach((m, slot) => {
      if (m.state !== 'enlisted' && slot < kept.length) this.takeOut(m);
    });
    // The buffers keep the first run's room for every window: a group's size is one window's K/V.
    const sizes = (this.order[0].prompt as KvCache).cross.map((t) => (t.data as Float32Array).length);
    kept.forEach((m, g) => {
      const from = this.order.indexOf(m);
      if (from === g) return;
      this.stack.forEach((buf, i) => buf.copyWithin(g * sizes[i], from * sizes[i], (from + 1) * sizes[i]));
      this.pointAt(m, g);
    });
    this.order = kept;
    this.joint = { ...reordered, cross: this.crossOf(kept.length) };
  }

  /** The first `groups` groups of the stacked cross K/V, as the grouped decoder's input. */
  private crossOf(groups: number): ort.Tensor[] {
    const first = this.order[0].prompt as KvCache;
    return this.stack.map((buf, i) => {
      const dims = [...first.cross[i].dims];
      dims[0] = groups;
      return new ort.Tensor('float32', buf.subarray(0, groups * (first.cross[i].data as Float32Array).length), dims);
    });
  }

  /** A member that cannot join steps alone, on its own tiled rows. */
  private alone(m: Member): void {
    const p = m.pending as PendingStep;
    m.pending = undefined;
    const own = this.detach(m, (m.prompt as KvCache).length);
    this.runner.step(p.tokens, own).then((r) => {
      // Its search gets a plain cache back: its member runner passes it on to the plain runner.
      p.resolve(r);
    }, p.reject);
  }

  private release(): void {
    this.joint = undefined;
    this.stack = [];
    this.order = [];
  }
}

/** Rows `rows` of a [batch, ...] tensor, copied into a new one of rows.length rows. */
function copyRows(t: ort.Tensor, rows: number[]): ort.Tensor {
  const data = t.data as Float32Array;
  const size = data.length / t.dims[0];
  const out = new Float32Array(size * rows.length);
  rows.forEach((r, i) => out.set(data.subarray(r * size, (r + 1) * size), i * size));
  const dims = [...t.dims];
  dims[0] = rows.length;
  return new ort.Tensor('float32', out, dims);
}

/** One window's runner: its first search goes through the set, everything else as plain. */
class MemberRunner extends DecoderRunner {
  constructor(model: WhisperModel, private readonly set: LockstepDecoding, private readonly member: Member) {
    super(model);
  }

  override tile(cache: KvCache, n: number): KvCache {
    return this.set.enlist(this.member, cache, n) ?? super.tile(cache, n);
  }

  override step(tokens: number[], cache: KvCache, extra: Record<string, ort.Tensor> = {}): Promise<{ logits: Float32Array; cache: KvCache }> {
    if (!this.set.isOwn(this.member, cache)) return super.step(tokens, cache, extra);
    if (tokens.length !== cache.batch) return super.step(tokens, this.set.detach(this.member, cache.length), extra);
    return this.set.step(this.member, tokens);
  }

  override reorder(cache: KvCache, sources: number[]): KvCache {
    if (!this.set.isOwn(this.member, cache)) return super.reorder(cache, sources);
    return this.set.reorder(this.member, cache, sources) ?? super.reorder(this.set.detach(this.member, cache.length), sources);
  }

  override release(cache: KvCache): void {
    if (this.set.isOwn(this.member, cache)) this.set.leave(this.member.index);
  }
}
