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
  /** Share of the bonus for the token that enters this node (see KeywordSequence.shares). */
  share: number;
}

/**
 * A keyword as tokens, with the share of the bonus each token earns. The default is
 * FIRST_TOKEN_SHARE for the first token and 1 for the rest; Chinese and Japanese keywords pay
 * differently (see keywordSequences). A plain token array means the default.
 */
export interface KeywordSequence {
  tokens: number[];
  shares: number[];
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
 * `npm run bench:boosting` on the tuning half of the Korean clips.
 * Why: docs/decisions.md#keyword-boosting-levers
 */
export const DEFAULT_TOKEN_BONUS = 2;

/**
 * Share of the bonus the first token of a keyword gets. A keyword's first token is often a
 * common syllable (" 서", " 소"): at the full bonus every beam was pulled onto it and the
 * sentence derailed before the revocation could help; deeper tokens are specific to the keyword.
 */
export const FIRST_TOKEN_SHARE = 0.5;

export class KeywordBias {
  readonly root: BiasNode = { children: new Map(), terminal: false, share: 0 };
  readonly start: BiasState = { node: this.root, partial: 0 };
  /** Every token that starts a keyword: candidates at any step. */
  private firstTokens: number[] = [];

  constructor(sequences: readonly (readonly number[] | KeywordSequence)[], readonly bonus: number) {
    for (const entry of sequences) {
      const seq = isSequence(entry) ? entry.tokens : entry;
      const shares = isSequence(entry) ? entry.shares : defaultShares(seq.length);
      if (seq.length === 0) continue;
      let node = this.root;
      seq.forEach((t, i) => {
        let next = node.children.get(t);
        if (next === undefined) {
          next = { children: new Map(), terminal: false, share: shares[i] ?? 1 };
          node.children.set(t, next);
        } else {
          // Two keywords through one token: the larger share (the prefix is as good as either).
          next.share = Math.max(next.share, shares[i] ?? 1);
        }
        node = next;
      });
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
    if (child !== undefined) return this.enter(child, state.partial, 0);
    // The match is broken: revoke what it earned, then the token may start another keyword.
    const revoked = 0 - state.partial;
    const fresh = state.node === this.root ? undefined : this.root.children.get(token);
    if (fresh !== undefined) return this.enter(fresh, 0, revoked);
    return { state: this.start, delta: revoked };
  }

  /** Score change for ending the hypothesis here (end of text): an unfinished match is revoked. */
  finish(state: BiasState): number {
    return 0 - state.partial;
  }

  /** The bonus for the token `token` from `from` (a child of `from`, or else a keyword start). */
  bonusInto(from: BiasNode, token: number): number {
    const node = from.children.get(token) ?? this.root.children.get(token);
    return node === undefined ? 0 : this.bonus * node.share;
  }

  private enter(node: BiasNode, partial: number, delta: number): BiasStep {
    const gain = this.bonus * node.share;
    if (node.terminal) {
      // A whole keyword: its bonus is kept for good. Stay in the node only if a longer keyword
      // continues from here (its extra tokens then form a new, revocable partial match).
      return { state: node.children.size > 0 ? { node, partial: 0 } : this.start, delta: delta + gain };
    }
    return { state: { node, partial: partial + gain }, delta: delta + gain };
  }
}

function isSequence(x: readonly number[] | KeywordSequence): x is KeywordSequence {
  return !Array.isArray(x);
}

function defaultShares(n: number): number[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? FIRST_TOKEN_SHARE : 1));
}

/** Chinese characters and kana: one character is often one token, or two byte-level pieces. */
const CJK_START = /^[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}]/u;

/**
 * Shares for a Chinese or Japanese keyword: nothing for a bare leading space token, nothing for a
 * token that ends inside a character (a byte piece such as the first half of 屋, shared by
 * hundreds of characters), and the first character's share is paid with the second character.
 * The total is the default one; only when it is paid changes.
 *
 * Why (bench:boosting, tune half, 20 keywords, beam 5): Whisper's tokenizer writes " 水位" as
 * [" ", "水", "位"], so with the default shares every Chinese/Japanese keyword began with the
 * same bare space token (half a bonus at every step) followed by a first character at the full
 * bonus; and single kana or byte pieces that begin a keyword are common everywhere. Control
 * clips paid for it: "そっくりめくって" became "ソックリーメクって" (a distractor began with ソ,
 * ja clip cv_ja_38864552: 6 -> 13 errors), and the Chinese meeting clip drifted (19 -> 24).
 */
function cjkShares(text: string, ids: readonly number[], encode: (text: string) => number[]): number[] {
  const chars = [...text];
  // Token counts at which a character ends: where the encoding of the first k characters is a
  // prefix of the whole encoding.
  const ends = new Set<number>();
  let prefix = '';
  for (const ch of chars) {
    prefix += ch;
    const part = encode(prefix);
    if (part.length <= ids.length && part.every((t, i) => ids[i] === t)) ends.add(part.length);
  }
  ends.add(ids.length);
  const spaceOnly = text.startsWith(' ') && encode(' ').length === 1 && ids[0] === encode(' ')[0];
  const shares = new Array<number>(ids.length).fill(0);
  let owed = 0;
  let realTokens = 0;
  let charsDone = spaceOnly ? -1 : 0;
  for (let i = 0; i < ids.length; i++) {
    if (i === 0 && spaceOnly) {
      charsDone = 0;
      continue;
    }
    owed += realTokens === 0 ? FIRST_TOKEN_SHARE : 1;
    realTokens++;
    if (!ends.has(i + 1)) continue;
    charsDone++;
    if (charsDone >= 2 || i === ids.length - 1) {
      shares[i] = owed;
      owed = 0;
    }
  }
  return shares;
}

/**
 * The token sequences of each keyword as the decoder may write it: after a space (the usual
 * case inside a sentence) and without one (start of the text, or glued to the previous word as
 * Japanese and Chinese are). Case variants for Latin script: "Sori" also as "sori". Chinese and
 * Japanese keywords get the shares of cjkShares; the rest the default.
 */
export function keywordSequences(keywords: readonly string[], encode: (text: string) => number[]): KeywordSequence[] {
  const seen = new Set<string>();
  const out: KeywordSequence[] = [];
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
        // Tried and left out: the full bonus for a Latin keyword that is one token (" says",
        // " clubs"): 0/4 -> 0/4 on the English tune half, no control changed.
        out.push({ tokens: ids, shares: CJK_START.test(f) ? cjkShares(text, ids, encode) : defaultShares(ids.length) });
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
