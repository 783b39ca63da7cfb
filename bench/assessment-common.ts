/**
 * What bench/assessment.ts and bench/assessment-experiments.ts share: the clips' frames, the
 * words' phoneme ids, the matched/mismatched pairing and the one-word swap.
 */
import { decodeFile } from '../src/media/decode.js';
import type { G2p } from '../src/speech/phonemes/g2p.js';
import type { PhonemeRecogniser } from '../src/speech/phonemes/recogniser.js';
import type { LogProbMatrix } from '../src/speech/phonemes/alignment.js';
import { phonemeTargets, referenceWords } from '../src/speech/phonemes/score.js';
import { mulberry32 } from '../src/speech/whisper/search.js';
import type { Clip } from './lib/manifest.js';
import { fnv1a as hash } from './lib/halves.js';

/** Function words of 4+ letters that are not "content" for the swap (shorter words are never chosen). */
const STOP = new Set(
  (
    'about above after again against also been before being below between both but cannot could does doing down during each ' +
    'even every from further have having here hers herself himself into itself just more most much myself once only other ' +
    'ourselves over same should some such than that thats their theirs them themselves then there these they this those ' +
    'through under until upon very were what when where which while whom whose will with would your yours yourself ' +
    'yeah okay didnt dont cant isnt wasnt theres thats ill youre'
  ).split(' '),
);

export const isContent = (w: string): boolean => /^\p{L}+$/u.test(w) && [...w].length >= 4 && !STOP.has(w.replace(/'/g, ''));

/** The file-name hash that seeds each clip's PRNG (the one the halves use). */
export { hash };

/** AUC: P(positive > negative) over every pair, ties half. */
export function auc(pos: readonly number[], neg: readonly number[]): number {
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

export interface Ctx {
  rec: PhonemeRecogniser;
  g2p: G2p;
  cache: Map<string, { ids: number[]; phonemes: string[] }>;
}

export async function wordPhonemes(ctx: Ctx, word: string, cached = true): Promise<{ ids: number[]; phonemes: string[] }> {
  const hit = cached ? ctx.cache.get(word) : undefined;
  if (hit) return hit;
  const { phonemes } = await ctx.g2p.word(word);
  const ids = phonemeTargets(ctx.rec.vocab, ctx.rec.nonPhonemes, phonemes);
  const out = { ids, phonemes: ids.map((id) => ctx.rec.vocab[id]) };
  if (cached) ctx.cache.set(word, out);
  return out;
}

export async function wordIds(ctx: Ctx, words: readonly string[], cached = true): Promise<number[][]> {
  const out: number[][] = [];
  for (const w of words) out.push((await wordPhonemes(ctx, w, cached)).ids);
  return out;
}

export interface ClipData {
  clip: Clip;
  words: string[];
  lp: LogProbMatrix;
}

export async function clipFrames(rec: PhonemeRecogniser, clip: Clip): Promise<ClipData> {
  const { pcm } = await decodeFile(clip.path);
  const lp = await rec.logProbs(pcm);
  return { clip, words: referenceWords(clip.reference), lp: { frames: lp.frames, frameCount: lp.frameCount, vocabSize: lp.vocab.length } };
}

/** Clips sorted by duration, neighbours paired (0-1, 2-3, ...; an odd last one with the one before): index -> partner index. */
export function partners(data: readonly ClipData[]): Map<number, number> {
  const order = data.map((_, i) => i).sort((x, y) => data[x].clip.durationS - data[y].clip.durationS || (data[x].clip.file < data[y].clip.file ? -1 : 1));
  const partner = new Map<number, number>();
  order.forEach((idx, k) => partner.set(idx, order[k % 2 === 0 ? (k + 1 < order.length ? k + 1 : k - 1) : k - 1]));
  return partner;
}

export interface Swap {
  /** Index of the swapped word. */
  at: number;
  from: string;
  to: string;
  words: string[];
}

/**
 * One content word of clip i's reference (chosen with a PRNG seeded by `seed` and the file name)
 * replaced by a content word of another clip's reference not in this one (same PRNG); null when
 * there is none. `accept(from, to)` (if given) rejects a replacement; the PRNG then draws again
 * (up to 50 times).
 */
export function swapFor(data: readonly ClipData[], i: number, seed: number, accept?: (from: string, to: string) => boolean): Swap | null {
  const rand = mulberry32(seed ^ hash(data[i].clip.file));
  const candidates = data[i].words.flatMap((w, k) => (isContent(w) ? [k] : []));
  const own = new Set(data[i].words);
  const pool = [...new Set(data.flatMap((d, j) => (j === i ? [] : d.words.filter(isContent))))].filter((w) => !own.has(w)).sort();
  if (candidates.length === 0 || pool.length === 0) return null;
  for (let attempt = 0; attempt < 50; attempt++) {
    const at = candidates[Math.floor(rand() * candidates.length)];
    const to = pool[Math.floor(rand() * pool.length)];
    if (accept && !accept(data[i].words[at], to)) continue;
    return { at, from: data[i].words[at], to, words: data[i].words.map((w, k) => (k === at ? to : w)) };
  }
  return null;
}

/** Levenshtein distance between two sequences. */
export function editDistance<T>(a: readonly T[], b: readonly T[]): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length];
}
