/**
 * CTC forced alignment and goodness of pronunciation on a phoneme recogniser's frame
 * log-probabilities (pure: no model). The matrix is T frames x V tokens, row-major, natural-log
 * posteriors (each row a log-softmax), as the hama recogniser writes them.
 */

export interface LogProbMatrix {
  /** `frameCount` x `vocabSize` log-probabilities, row-major. */
  frames: Float32Array;
  frameCount: number;
  vocabSize: number;
}

/** Frames `[start, end)` in which the alignment path sits on one target token. */
export interface TokenSpan {
  start: number;
  end: number;
}

export interface Alignment {
  /** One span per target token, in order; spans are non-empty, disjoint and increasing. */
  spans: TokenSpan[];
  /** Log-probability of the best path (sum over frames of the chosen states' log-probs). */
  logProb: number;
}

/** Frames a CTC path needs for `targets`: one per token, plus a blank between equal neighbours. */
export function minFramesFor(targets: readonly number[]): number {
  let n = targets.length;
  for (let i = 1; i < targets.length; i++) if (targets[i] === targets[i - 1]) n++;
  return n;
}

/**
 * The best (Viterbi) path through the standard CTC topology for `targets`: states are
 * blank, t1, blank, t2, ..., tL, blank; a path starts in the first blank or t1, ends in tL or the
 * last blank, and at each frame stays, moves one state on, or skips a blank between two
 * different tokens. Each token gets the frames its state holds (repeats of a token collapse into
 * its span; the blanks around it are not part of it). Returns null when the clip has fewer frames
 * than the targets need, or for no targets.
 */
export function forcedAlign(lp: LogProbMatrix, targets: readonly number[], blank: number): Alignment | null {
  const { frames, frameCount: T, vocabSize: V } = lp;
  const L = targets.length;
  if (L === 0 || T < minFramesFor(targets)) return null;
  for (const t of targets) {
    if (!Number.isInteger(t) || t < 0 || t >= V || t === blank) throw new RangeError(`target token ${t} is not a non-blank token of a ${V}-token vocabulary`);
  }
  const S = 2 * L + 1;
  const label = (s: number): number => (s % 2 === 0 ? blank : targets[(s - 1) >> 1]);
  // back[t * S + s]: how many states back the path came from at frame t (0, 1 or 2).
  const back = new Uint8Array(T * S);
  let prev = new Float64Array(S).fill(-Infinity);
  let cur = new Float64Array(S);
  prev[0] = frames[blank];
  prev[1] = frames[targets[0]];
  for (let t = 1; t < T; t++) {
    const row = t * V;
    // States that can still reach the end in the frames left, and that the start can reach.
    const lo = Math.max(0, S - 2 * (T - t) - 1);
    const hi = Math.min(S - 1, 2 * t + 1);
    cur.fill(-Infinity);
    for (let s = lo; s <= hi; s++) {
      let best = prev[s];
      let from = 0;
      if (s >= 1 && prev[s - 1] > best) {
        best = prev[s - 1];
        from = 1;
      }
      if (s >= 2 && s % 2 === 1 && targets[(s - 1) >> 1] !== targets[(s - 3) >> 1] && prev[s - 2] > best) {
        best = prev[s - 2];
        from = 2;
      }
      if (best === -Infinity) continue;
      cur[s] = best + frames[row + label(s)];
      back[t * S + s] = from;
    }
    [prev, cur] = [cur, prev];
  }
  let s = prev[S - 1] >= prev[S - 2] ? S - 1 : S - 2;
  const logProb = prev[s];
  if (logProb === -Infinity) return null;
  const spans: TokenSpan[] = Array.from({ length: L }, () => ({ start: -1, end: -1 }));
  for (let t = T - 1; t >= 0; t--) {
    if (s % 2 === 1) {
      const span = spans[(s - 1) >> 1];
      if (span.end < 0) span.end = t + 1;
      span.start = t;
    }
    if (t > 0) s -= back[t * S + s];
  }
  return { spans, logProb };
}

export interface GopOptions {
  /**
   * Tokens that never compete with a target: the blank always; callers add what is not a phoneme
   * (the word-boundary token, padding and other specials).
   */
  notCompetitors: readonly number[];
}

/**
 * Goodness of pronunciation of each target token over its aligned frames.
 *
 * Variant: the mean over the token's frames of log P(target | frame) − max over competitors
 * c ≠ target of log P(c | frame), competitors being the non-blank phonemes — the log posterior
 * ratio of GOP-DNN (Hu et al., 2015), taken against the best *other* phoneme so that a clearly
 * heard phoneme scores above 0 (a margin) rather than being capped at 0, and with the blank left
 * out: a CTC model puts most of its mass on the blank even inside a phoneme, so the plain posterior
 * (or a ratio against a competitor set including the blank) measures the model's peakiness, not
 * the phoneme; the ratio between phonemes does not depend on the blank's share.
 * A token with an empty span (it cannot happen with `forcedAlign`'s spans) scores -Infinity.
 */
export function goodnessOfPronunciation(
  lp: LogProbMatrix,
  targets: readonly number[],
  spans: readonly TokenSpan[],
  { notCompetitors }: GopOptions,
): number[] {
  const { frames, vocabSize: V } = lp;
  if (spans.length !== targets.length) throw new RangeError(`${targets.length} targets but ${spans.length} spans`);
  const competes = new Uint8Array(V).fill(1);
  for (const id of notCompetitors) competes[id] = 0;
  return targets.map((target, i) => {
    const { start, end } = spans[i];
    if (end <= start) return -Infinity;
    let sum = 0;
    for (let t = start; t < end; t++) {
      const row = t * V;
      let best = -Infinity;
      for (let v = 0; v < V; v++) {
        if (v !== target && competes[v] === 1 && frames[row + v] > best) best = frames[row + v];
      }
      sum += frames[row + target] - best;
    }
    return sum / (end - start);
  });
}

/**
 * Log-likelihood ratio of each target token against a free loop over the same frames: minus the
 * sum, over the frames the token owns, of (the frame's best log-prob over every token, blank and
 * specials included) − (the forced path's log-prob there). A token owns `owned[i]` = [start, stop),
 * which must contain its aligned span: inside the span the forced path sits on the token, outside
 * it (the blanks the path crosses after the token) on the blank. 0 means the forced path is the
 * best free path there; the more negative, the more the frames say something else.
 *
 * Unlike `goodnessOfPronunciation` it counts (1) the frames between a word's phonemes, so sounds
 * the target has no phoneme for (or a phoneme squeezed into one frame while the rest of its sound
 * goes to the blank) cost, and (2) the blank as a competitor, and it is capped at 0: a clearly
 * heard phoneme cannot make up for a wrong one next to it. Summed, not averaged, over frames:
 * a phoneme's cost grows with how much of the audio disagrees with it.
 */
export function freeLoopRatios(lp: LogProbMatrix, targets: readonly number[], spans: readonly TokenSpan[], owned: readonly TokenSpan[], blank: number): number[] {
  const { frames, frameCount: T, vocabSize: V } = lp;
  if (spans.length !== targets.length || owned.length !== targets.length) {
    throw new RangeError(`${targets.length} targets, ${spans.length} spans, ${owned.length} owned ranges`);
  }
  return targets.map((target, i) => {
    const { start, end } = spans[i];
    const from = Math.max(0, owned[i].start);
    const to = Math.min(T, owned[i].end);
    if (end <= start) return -Infinity;
    let cost = 0;
    for (let t = from; t < to; t++) {
      const row = t * V;
      let best = -Infinity;
      for (let v = 0; v < V; v++) if (frames[row + v] > best) best = frames[row + v];
      cost += best - frames[row + (t >= start && t < end ? target : blank)];
    }
    return 0 - cost; // not -cost: -0 for a perfect match
  });
}

/**
 * Greedy CTC decoding: the best token of each frame (the blank's log-prob shifted by
 * `blankBias`, as hama's own decoder does with -0.1), repeats collapsed, blanks dropped.
 */
export function greedyCtcDecode(lp: LogProbMatrix, blank: number, blankBias = 0): number[] {
  const { frames, frameCount: T, vocabSize: V } = lp;
  const out: number[] = [];
  let prev = -1;
  for (let t = 0; t < T; t++) {
    const row = t * V;
    let best = 0;
    let bestScore = -Infinity;
    for (let v = 0; v < V; v++) {
      const score = frames[row + v] + (v === blank ? blankBias : 0);
      if (score > bestScore) {
        bestScore = score;
        best = v;
      }
    }
    if (best !== prev && best !== blank) out.push(best);
    prev = best;
  }
  return out;
}
