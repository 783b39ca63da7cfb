import type { WhisperModel } from './model.js';
import type { DecoderRunner, KvCache } from './decoder-runner.js';
import type { BiasState, KeywordBias } from './keyword-bias.js';

/**
 * One 30 s window's token search: beam search at temperature 0, best-of-N sampling above it,
 * with openai-whisper's logit rules (blank suppression, suppressed tokens, timestamp pairing,
 * monotone timestamps, max initial timestamp, "timestamp mass beats any text token").
 */
export interface SearchOptions {
  beamSize: number;
  temperature: number;
  bestOf: number;
  /** Tokens that may be sampled in this window. */
  sampleLen: number;
  /** Timestamps on: the seek loop needs them for segment boundaries. */
  timestamps: boolean;
  rng: () => number;
  signal?: AbortSignal;
  /** Awaited before every decoder step: where a more urgent request may cut in (see RunGate). */
  turn?: () => Promise<void>;
  /** Keyword boosting: bonus toward keyword tokens. Absent (no keywords): no extra work at all. */
  bias?: KeywordBias;
  /**
   * Tokens already written (a checked draft, see acceptDraft): the search goes on from them, with
   * `firstLogits` the distribution after them and the cache holding them.
   */
  start?: SearchStart;
}

export interface SearchResult {
  /** Sampled tokens, without the final end-of-text. */
  tokens: number[];
  /** log p of each token where it was sampled: word probabilities without another softmax pass. */
  tokenLogprobs: number[];
  sumLogprob: number;
  avgLogprob: number;
  /** Stopped because it was repeating itself: never a final answer as it stands. */
  looped: boolean;
}

/**
 * True when the text tokens end in the same n-gram repeated: three times for n >= 3, six times
 * for a word or two (real speech repeats "no, no, no", not a whole phrase three times running).
 * Whisper's loops are exactly this; stopping them early saves up to 200 wasted decoder steps.
 */
export function endsInLoop(tokens: number[], timestampBegin: number): boolean {
  const text = tokens.length && tokens.every((t) => t < timestampBegin) ? tokens : tokens.filter((t) => t < timestampBegin);
  const L = text.length;
  for (let n = 1; n <= 16; n++) {
    const reps = n <= 2 ? 6 : 3;
    if (reps * n > L) break;
    let same = true;
    for (let k = 1; k < reps && same; k++) {
      for (let j = 0; j < n; j++) {
        if (text[L - 1 - j] !== text[L - 1 - j - k * n]) { same = false; break; }
      }
    }
    if (same) return true;
  }
  return false;
}

export class AbortedError extends Error {
  constructor() {
    super('aborted');
    this.name = 'AbortedError';
  }
}

export class LogitRules {
  private readonly model: WhisperModel;
  private readonly suppress: Int32Array;

  private topIds = new Int32Array(0);
  private topVals = new Float32Array(0);
  private topFound = 0;

  constructor(model: WhisperModel) {
    this.model = model;
    this.suppress = Int32Array.from(model.suppressTokens.filter((t) => t >= 0 && t < model.vocabSize));
  }

  /**
   * Applies the rules to one row of logits in place (suppressed tokens become -Infinity) and
   * returns the row's log-sum-exp, so that log p(t) = row[t] - result. No arrays are allocated:
   * this runs for every beam at every step.
   * `seq` is what this sequence sampled so far in the window. `top`: how many best tokens to keep
   * for `top()` (beam search asks for 2 x beam). A parameter, not a setting: searches of several
   * requests interleave in one inference process (RunGate), each between two model runs.
   */
  apply(row: Float32Array, seq: number[], timestamps: boolean, top = 0): number {
    const { eot, noTimestamps, timestampBegin } = this.model.tokens;
    const V = row.length;
    if (seq.length === 0) for (const t of this.model.beginSuppressTokens) if (t < V) row[t] = -Infinity;
    for (let i = 0; i < this.suppress.length; i++) row[this.suppress[i]] = -Infinity;
    if (!timestamps) {
      row.fill(-Infinity, timestampBegin);
      return this.lseAndTop(row, top);
    }
    row[noTimestamps] = -Infinity;
    const n = seq.length;
    const lastTs = n >= 1 && seq[n - 1] >= timestampBegin;
    const penultTs = n < 2 || seq[n - 2] >= timestampBegin;
    if (lastTs) {
      if (penultTs) row.fill(-Infinity, timestampBegin);
      else row.fill(-Infinity, 0, eot);
    }
    let lastTimestamp = -1;
    for (let i = n - 1; i >= 0; i--) if (seq[i] >= timestampBegin) { lastTimestamp = seq[i]; break; }
    if (lastTimestamp >= 0) {
      // Timestamps never go back; a closing timestamp may equal the opening one only after text.
      const upTo = lastTs && !penultTs ? lastTimestamp : lastTimestamp + 1;
      row.fill(-Infinity, timestampBegin, Math.min(upTo, V));
    }
    if (n === 0) {
      row.fill(-Infinity, 0, timestampBegin);
      row.fill(-Infinity, Math.min(V, timestampBegin + this.model.maxInitialTimestampIndex + 1));
    }
    // "If the timestamps together are likelier than any single text token, sample a timestamp":
    // compared in logit space, where the shared normaliser cancels out.
    const tsLse = logSumExp(row, timestampBegin, V);
    let maxText = -Infinity;
    for (let t = 0; t < timestampBegin; t++) if (row[t] > maxText) maxText = row[t];
    if (tsLse > maxText) row.fill(-Infinity, 0, timestampBegin);
    return this.lseAndTop(row, top);
  }

  /**
   * log Σ exp(row) and the `k` best token ids, in one pass over the vocabulary (online
   * log-sum-exp: the running sum is rescaled on the rare new maximum). Three separate passes
   * (max, sum, top-k) cost a fifth of every beam step.
   */
  private lseAndTop(row: Float32Array, k: number): number {
    if (this.topIds.length < k) {
      this.topIds = new Int32Array(k);
      this.topVals = new Float32Array(k);
    }
    const ids = this.topIds;
    const vals = this.topVals;
    let n = 0;
    let max = -Infinity;
    let sum = 0;
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (v === -Infinity) continue;
      if (v > max) {
        sum = sum * Math.exp(max - v) + 1;
        max = v;
      } else if (v > max - 20) {
        // Tokens 20 below the maximum add at most 52k · e^-20 ≈ 1e-4 to the sum.
        sum += Math.exp(v - max);
      }
      if (k > 0 && (n < k || v > vals[n - 1])) {
        let j = n < k ? n++ : k - 1;
        while (j > 0 && vals[j - 1] < v) {
          vals[j] = vals[j - 1];
          ids[j] = ids[j - 1];
          j--;
        }
        vals[j] = v;
        ids[j] = i;
      }
    }
    this.topFound = n;
    return max === -Infinity ? -Infinity : max + Math.log(sum);
  }

  /** The best token ids of the row given to the last `apply`, best first (as many as it was asked to keep). */
  top(): number[] {
    return Array.from(this.topIds.subarray(0, this.topFound));
  }
}

/** log Σ exp(a[i]) over [from, to). */
export function logSumExp(a: Float32Array, from: number, to: number): number {
  let max = -Infinity;
  for (let i = from; i < to; i++) if (a[i] > max) max = a[i];
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  // Tokens more than 20 below the maximum add at most 52k · e^-20 ≈ 1e-4 to the sum.
  const cutoff = max - 20;
  for (let i = from; i < to; i++) {
    const v = a[i];
    if (v > cutoff) sum += Math.exp(v - max);
  }
  return max + Math.log(sum);
}

/** Indices of the k largest values, largest first. */
export function topK(a: Float32Array, k: number): number[] {
  const idx: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (idx.length === k && v <= val[k - 1]) continue;
    let j = idx.length === k ? k - 1 : idx.length;
    while (j > 0 && val[j - 1] < v) {
      if (j < k) { idx[j] = idx[j - 1]; val[j] = val[j - 1]; }
      j--;
    }
    idx[j] = i;
    val[j] = v;
  }
  return idx;
}

interface Finished {
  tokens: number[];
  logprobs: number[];
  /** Search score: model log-probability plus keyword bonus. */
  score: number;
  /** The keyword bonus inside `score` (0 without boosting). */
  bonus: number;
  looped?: boolean;
}

interface Beam extends Finished {
  bias: BiasState | undefined;
}

/** A search's starting point: the tokens it takes as written, with their scores. */
export type SearchStart = Beam;

function rank(finished: Finished[]): Finished {
  // Length normalisation as openai-whisper and CTranslate2 with length_penalty = 1.
  let best = finished[0];
  let bestScore = -Infinity;
  for (const f of finished) {
    const s = f.score / Math.max(1, f.tokens.length);
    if (s > bestScore) { bestScore = s; best = f; }
  }
  return best;
}

function result(f: Finished): SearchResult {
  // Reported log-probabilities are the model's: the keyword bonus only steered the search.
  const sum = f.score - f.bonus;
  return { tokens: f.tokens, tokenLogprobs: f.logprobs, sumLogprob: sum, avgLogprob: sum / (f.tokens.length + 1), looped: f.looped ?? false };
}

interface Candidate { score: number; logprob: number; source: number; token: number; bonus: number; bias: BiasState | undefined }

/**
 * The candidates one beam offers: its best tokens, and with boosting also every keyword token
 * whose bonus lifts it above the beam's worst kept token (the others could not win a place).
 */
function expand(
  row: Float32Array, lse: number, rules: LogitRules, beam: Beam, source: number, eot: number,
  bias: KeywordBias | undefined, out: Candidate[],
): void {
  const top = rules.top();
  if (bias === undefined || beam.bias === undefined) {
    for (const t of top) out.push({ score: beam.score + row[t] - lse, logprob: row[t] - lse, source, token: t, bonus: 0, bias: undefined });
    return;
  }
  const state = beam.bias;
  const add = (t: number): void => {
    const lp = row[t] - lse;
    const delta = t === eot ? bias.finish(state) : 0;
    if (t === eot) {
      out.push({ score: beam.score + lp + delta, logprob: lp, source, token: t, bonus: beam.bonus + delta, bias: state });
      return;
    }
    const step = bias.advance(state, t);
    out.push({ score: beam.score + lp + step.delta, logprob: lp, source, token: t, bonus: beam.bonus + step.delta, bias: step.state });
  };
  for (const t of top) add(t);
  const floor = top.length > 0 ? row[top[top.length - 1]] : -Infinity;
  const extra: number[] = [];
  bias.forEachBonusToken(state, (t) => {
    const v = row[t];
    if (v === -Infinity || v + bias.bonus <= floor || top.includes(t) || extra.includes(t)) return;
    extra.push(t);
    add(t);
  });
}

/**
 * The longest prefix of `draft` the search would write itself, judged on one decoder pass over
 * the draft (`rows`, `V` wide: row i is the distribution before draft[i]; text-only windows).
 * A token is taken when it is the best candidate, keyword bonus included, and leads the
 * runner-up by at least `margin` (log-probability): where the second best is close, beam search
 * may keep it and end elsewhere, so the check stops there and the search proper takes over.
 * Margin 0 is greedy's own choice. A stream's next decode of the same utterance starts from its
 * last text this way: one pass instead of a decoder step per token.
 */
export function acceptDraft(
  rules: LogitRules, eot: number, rows: Float32Array, V: number, draft: readonly number[],
  bias: KeywordBias | undefined, margin: number,
): SearchStart {
  let beam: Beam = { tokens: [], logprobs: [], score: 0, bonus: 0, bias: bias?.start };
  for (let i = 0; i < draft.length && (i + 1) * V <= rows.length; i++) {
    const row = rows.slice(i * V, (i + 1) * V);
    const lse = rules.apply(row, beam.tokens, false, 2);
    const cands: Candidate[] = [];
    expand(row, lse, rules, beam, 0, eot, bias, cands);
    cands.sort((a, b) => b.score - a.score);
    const best = cands[0];
    if (best === undefined || best.token !== draft[i]) break;
    if (cands.length > 1 && best.score - cands[1].score < margin) break;
    beam = { tokens: [...beam.tokens, best.token], logprobs: [...beam.logprobs, best.logprob], score: best.score, bonus: best.bonus, bias: best.bias };
  }
  return beam;
}

export async function beamSearch(
  runner: DecoderRunner, rules: LogitRules, eot: number, timestampBegin: number,
  firstLogits: Float32Array, prompt: KvCache, opts: SearchOptions,
): Promise<SearchResult> {
  const B = opts.beamSize;
  const bias = opts.bias;
  const finished: Finished[] = [];
  // Patience 1, as faster-whisper: patience 2 was measured on the quick set (ko 109 -> 109,
  // ja 77 -> 76, zh 90 -> 90 errors) and is not worth its extra decoder steps.
  const maxCandidates = B;
  // Candidates as CTranslate2's beam search (faster-whisper): the best 2B of all beams; an
  // end-of-text among the first B finishes that hypothesis and its place goes to the next
  // non-finishing candidate from the second half (openai-whisper instead took B + 1 per beam and
  // finished every end-of-text met before B live beams, capped at B). Quick set, beam 5, errors:
  // en 45 -> 45, ja 77 -> 76, ko 109 -> 107, zh 90 -> 90; the changed clips mostly move to
  // faster-whisper's text.
  const C = 2 * B;
  const select = (cands: Candidate[], from: (c: Candidate) => Beam): { beams: Beam[]; sources: number[] } => {
    cands.sort((a, b) => b.score - a.score);
    const out: { beam: Beam; source: number; score: number }[] = [];
    let spare = B;
    for (let k = 0; k < B && k < cands.length; k++) {
      let c: Candidate | undefined = cands[k];
      const parent = from(c);
      if (c.token === eot) {
        finished.push({ tokens: parent.tokens, logprobs: parent.logprobs, score: c.score, bonus: c.bonus });
        c = undefined;
        while (spare < C && spare < cands.length) {
          const alt = cands[spare++];
          if (alt.token !== eot) { c = alt; break; }
        }
        if (c === undefined) continue;
      }
      const p = from(c);
      out.push({ beam: { tokens: [...p.tokens, c.token], logprobs: [...p.logprobs, c.logprob], score: c.score, bonus: c.bonus, bias: c.bias }, source: c.source, score: c.score });
    }
    out.sort((a, b) => b.score - a.score);
    return { beams: out.map((o) => o.beam), sources: out.map((o) => o.source) };
  };
  // The first step is shared by every beam: expand from the single prompt distribution.
  const root: Beam = opts.start ?? { tokens: [], logprobs: [], score: 0, bonus: 0, bias: bias?.start };
  const lse0 = rules.apply(firstLogits, root.tokens, opts.timestamps, C);
  const first: Candidate[] = [];
  expand(firstLogits, lse0, rules, root, 0, eot, bias, first);
  let beams = select(first, () => root).beams;
  let cache = runner.tile(prompt, beams.length);
  try {
    for (let step = 1 + root.tokens.length; step < opts.sampleLen && finished.length < maxCandidates && beams.length > 0; step++) {
      if (opts.signal?.aborted) throw new AbortedError();
      await opts.turn?.();
      const { logits, cache: next } = await runner.step(beams.map((b) => b.tokens[b.tokens.length - 1]), cache);
      const V = logits.length / beams.length;
      const cands: Candidate[] = [];
      for (let r = 0; r < beams.length; r++) {
        const row = logits.subarray(r * V, (r + 1) * V);
        const lse = rules.apply(row, beams[r].tokens, opts.timestamps, C);
        expand(row, lse, rules, beams[r], r, eot, bias, cands);
      }
      const prev = beams;
      const chosen = select(cands, (c) => prev[c.source]);
      const nextBeams = chosen.beams;
      const sources = chosen.sources;
      if (finished.length >= maxCandidates || nextBeams.length === 0) break;
      // The best hypothesis is stuck in a loop: this temperature has failed, stop paying for it.
      if (endsInLoop(nextBeams[0].tokens, timestampBegin)) return result({ ...nextBeams[0], looped: true });
      // Keep the batch size fixed at the beam count so the cross-attention cache needs no reshuffle.
      cache = runner.reorder(next, sources);
      beams = nextBeams;
    }
    if (finished.length < B) {
      const rest = [...beams].sort((a, b) => b.score - a.score);
      for (const b of rest) {
        if (finished.length >= B) break;
        // Cut off mid-keyword at the length limit: that partial bonus is not earned either.
        const revoke = bias !== undefined && b.bias !== undefined ? bias.finish(b.bias) : 0;
        finished.push({ tokens: b.tokens, logprobs: b.logprobs, score: b.score + revoke, bonus: b.bonus + revoke });
      }
    }
    return result(rank(finished));
  } finally {
    runner.release(cache);
  }
}

export async function sampleSearch(
  runner: DecoderRunner, rules: LogitRules, eot: number, timestampBegin: number,
  firstLogits: Float32Array, prompt: KvCache, opts: SearchOptions,
): Promise<SearchResult> {
  const n = Math.max(1, opts.bestOf);
  const bias = opts.bias;
  const seqs: number[][] = Array.from({ length: n }, () => []);
  const logprobs: number[][] = Array.from({ length: n }, () => []);
  const scores = new Array<number>(n).fill(0);
  const bonuses = new Array<number>(n).fill(0);
  const states: (BiasState | undefined)[] = new Array<BiasState | undefined>(n).fill(bias?.start);
  const done = new Array<boolean>(n).fill(false);
  const looped = new Array<boolean>(n).fill(false);
  const pick = (lse: number, row: Float32Array, r: number): void => {
    const state = states[r];
    // Boosting: keyword tokens get their bonus in the logits they are sampled from; the
    // log-probability recorded is the model's (the bonus is subtracted again).
    const boosted: number[] = [];
    const gains: number[] = [];
    if (bias !== undefined && state !== undefined) {
      bias.forEachBonusToken(state, (t) => {
        if (row[t] === -Infinity || boosted.includes(t)) return;
        const gain = bias.bonusInto(state.node, t);
        boosted.push(t);
        gains.push(gain);
        row[t] += gain;
      });
    }
    const t = sampleToken(row, opts.temperature, opts.rng);
    const at = boosted.indexOf(t);
    const lp = row[t] - lse - (at >= 0 ? gains[at] : 0);
    let delta = 0;
    if (t === eot) {
      done[r] = true;
      if (bias !== undefined && state !== undefined) delta = bias.finish(state);
    } else {
      seqs[r].push(t);
      logprobs[r].push(lp);
      if (bias !== undefined && state !== undefined) {
        const step = bias.advance(state, t);
        states[r] = step.state;
        delta = step.delta;
      }
    }
    scores[r] += lp + delta;
    bonuses[r] += delta;
    if (!done[r] && endsInLoop(seqs[r], timestampBegin)) {
      done[r] = true;
      looped[r] = true;
    }
  };
  for (let r = 0; r < n; r++) {
    const row = firstLogits.slice();
    pick(rules.apply(row, [], opts.timestamps), row, r);
  }
  let cache = runner.tile(prompt, n);
  try {
    for (let step = 1; step < opts.sampleLen && !done.every(Boolean); step++) {
      if (opts.signal?.aborted) throw new AbortedError();
      const last = seqs.map((s, r) => (done[r] || s.length === 0 ? eot : s[s.length - 1]));
      await opts.turn?.();
      const { logits, cache: next } = await runner.step(last, cache);
      cache = next;
      const V = logits.length / n;
      for (let r = 0; r < n; r++) {
        if (done[r]) continue;
        const row = logits.subarray(r * V, (r + 1) * V);
        pick(rules.apply(row, seqs[r], opts.timestamps), row, r);
      }
    }
    const all = seqs.map((tokens, r) => ({ tokens, logprobs: logprobs[r], score: scores[r], bonus: bonuses[r], looped: looped[r] }));
    const clean = all.filter((f) => !f.looped);
    return result(rank(clean.length ? clean : all));
  } finally {
    runner.release(cache);
  }
}

function sampleToken(row: Float32Array, temperature: number, rng: () => number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  const p = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) {
    const v = row[i] === -Infinity ? 0 : Math.exp((row[i] - max) / temperature);
    p[i] = v;
    sum += v;
  }
  let u = rng() * sum;
  for (let i = 0; i < p.length; i++) {
    u -= p[i];
    if (u <= 0 && p[i] > 0) return i;
  }
  return topK(row, 1)[0];
}

/** Small deterministic PRNG so sampled fallbacks give the same text for the same audio. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
