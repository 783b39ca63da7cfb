/**
 * Contextual biasing (shallow fusion) toward boosting keywords: a prefix trie of the keywords'
 * token sequences, walked token by token by every hypothesis. A token that continues a keyword
 * prefix earns a bonus; when the hypothesis leaves the keyword unfinished, the bonus it earned
 * on that partial match is taken back ("partial-match bonus revoked"), so the bias can pull a
 * keyword through but never rewards half of one, and the decoder does not drift toward
 * keyword-shaped fragments. The bonus is added to the search score only: the token
 * log-probabilities reported (word confidences, fallback thresholds) stay the model's own.
 */

export interface BiasNode {
  readonly children: Map<number, BiasNode>;
  /** A keyword ends here. */
  terminal: boolean;
}

/** Where a hypothesis stands in the trie, and the bonus its unfinished match has earned. */
export interface BiasState {
  readonly node: BiasNode;
  readonly partial: number;
}

export interface BiasStep {
  state: BiasState;
  /** Score change for taking the token: +bonus, minus any revoked partial bonus. */
  delta: number;
}

/**
 * Bonus per keyword token, in nats (log-probability units), at weight 1. Measured with
 * `npm run bench:boosting` on the tuning half of the Korean clips: see README "Keyword boosting".
 */
export const DEFAULT_TOKEN_BONUS = 2;

/**
 * Share of the bonus the first token of a keyword gets. A keyword's first token is often a
 * common syllable (" 서", " 소"): at the full bonus every beam was pulled onto it and the
 * sentence derailed before the revocation could help; deeper tokens are specific to the keyword.
 */
export const FIRST_TOKEN_SHARE = 0.5;

export class KeywordBias {
  readonly root: BiasNode = { children: new Map(), terminal: false };
  readonly start: BiasState = { node: this.root, partial: 0 };
  /** Every token that starts a keyword: candidates at any step. */
  private firstTokens: number[] = [];

  constructor(sequences: readonly (readonly number[])[], readonly bonus: number) {
    for (const seq of sequences) {
      if (seq.length === 0) continue;
      let node = this.root;
      for (const t of seq) {
        let next = node.children.get(t);
        if (next === undefined) {
          next = { children: new Map(), terminal: false };
          node.children.set(t, next);
        }
        node = next;
      }
      node.terminal = true;
    }
    this.firstTokens = [...this.root.children.keys()];
  }

  get empty(): boolean {
    return this.root.children.size === 0;
  }

  /** Tokens that would earn a bonus from `state`: the node's children, and any keyword start. */
  forEachBonusToken(state: BiasState, fn: (token: number) => void): void {
    if (state.node !== this.root) for (const t of state.node.children.keys()) fn(t);
    for (const t of this.firstTokens) fn(t);
  }

  /** True when `token` earns the bonus from `state` (continues or starts a keyword). */
  boosts(state: BiasState, token: number): boolean {
    return state.node.children.has(token) || this.root.children.has(token);
  }

  advance(state: BiasState, token: number): BiasStep {
    const child = state.node.children.get(token);
    if (child !== undefined) return this.enter(child, state.node, state.partial, 0);
    // The match is broken: revoke what it earned, then the token may start another keyword.
    const revoked = 0 - state.partial;
    const fresh = state.node === this.root ? undefined : this.root.children.get(token);
    if (fresh !== undefined) return this.enter(fresh, this.root, 0, revoked);
    return { state: this.start, delta: revoked };
  }

  /** Score change for ending the hypothesis here (end of text): an unfinished match is revoked. */
  finish(state: BiasState): number {
    return 0 - state.partial;
  }

  /** The bonus for entering `node` from `from`: reduced for a keyword's first token. */
  bonusInto(from: BiasNode): number {
    return from === this.root ? this.bonus * FIRST_TOKEN_SHARE : this.bonus;
  }

  private enter(node: BiasNode, from: BiasNode, partial: number, delta: number): BiasStep {
    const gain = this.bonusInto(from);
    if (node.terminal) {
      // A whole keyword: its bonus is kept for good. Stay in the node only if a longer keyword
      // continues from here (its extra tokens then form a new, revocable partial match).
      return { state: node.children.size > 0 ? { node, partial: 0 } : this.start, delta: delta + gain };
    }
    return { state: { node, partial: partial + gain }, delta: delta + gain };
  }
}

/**
 * The token sequences of each keyword as the decoder may write it: after a space (the usual
 * case inside a sentence) and without one (start of the text, or glued to the previous word as
 * Japanese and Chinese are). Case variants for Latin script: "Sori" also as "sori".
 */
export function keywordSequences(keywords: readonly string[], encode: (text: string) => number[]): number[][] {
  const seen = new Set<string>();
  const out: number[][] = [];
  for (const raw of keywords) {
    const k = raw.trim();
    if (k === '') continue;
    const forms = new Set([k, k.toLowerCase()]);
    for (const f of forms) {
      for (const text of [` ${f}`, f]) {
        const ids = encode(text);
        const key = ids.join(',');
        if (ids.length === 0 || seen.has(key)) continue;
        seen.add(key);
        out.push(ids);
      }
    }
  }
  return out;
}

/**
 * The keywords that go into the Whisper prompt: in the order given (clients list the important
 * ones first), each one whole, while they fit in `maxTokens`. A keyword too long for the space
 * left is skipped so shorter ones after it still get in.
 */
export function keywordPrompt(keywords: readonly string[], countTokens: (text: string) => number, maxTokens: number): string | undefined {
  const picked: string[] = [];
  let used = 0;
  for (const raw of keywords) {
    const k = raw.trim();
    if (k === '' || picked.includes(k)) continue;
    // ", " between keywords costs one token; the leading space of the first is counted too.
    const cost = countTokens(` ${k}`) + (picked.length > 0 ? 1 : 0);
    if (used + cost > maxTokens) continue;
    picked.push(k);
    used += cost;
  }
  return picked.length > 0 ? picked.join(', ') : undefined;
}
