import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { PHONEME_MODEL_DIR } from './recogniser.js';

/**
 * hama's G2P (PyPI `hama==1.3.13`, `encoder.onnx` + `decoder_step.onnx`): a word's letters in,
 * IPA phoneme tokens out, each linked (by the decoder's attention argmax) to the letter it spells.
 * English and Korean (Hangul syllables are split into jamo, all linked back to the syllable).
 *
 * Its output tokens are the decoder vocabulary of `g2p_vocab.json`, the same list the phoneme
 * recogniser's first 189 tokens are, so `phonemeIds` accepts them; a few tokens it can write are
 * not phonemes for the recogniser (`nonPhonemes`: specials, punctuation) and some are modifier
 * letters (`ː`, `ʰ`) written as tokens of their own.
 *
 * Pre-processing as hama's tokenizer does it: whitespace dropped, each character lower-cased,
 * Hangul syllables split into leading consonant, vowel and optional final jamo, unknown
 * characters mapped to `<unk>`, ids padded with `<pad>` (or cut) to 128. Decoding is greedy, one
 * `decoder_step` call per token (the step model takes the argmax itself), starting from `<sos>`,
 * carrying the decoder's hidden state and attention, stopping at `<eos>` or after 32 steps.
 */
export const G2P_MAX_INPUT = 128;
export const G2P_MAX_STEPS = 32;

export interface G2pWord {
  /** IPA tokens, in the decoder's (and the recogniser's) spelling. */
  phonemes: string[];
  /** Per phoneme, the index (in code points) of the letter of the word it is linked to; -1 for none. */
  letters: number[];
}

export interface G2p {
  word(text: string): Promise<G2pWord>;
  close(): Promise<void>;
}

export interface G2pOptions {
  /** onnxruntime intra-op threads (default 1). */
  threads?: number;
  /** Most tokens decoded for one word (default 32, hama's). */
  maxSteps?: number;
}

interface Vocab {
  encoder: string[];
  decoder: string[];
}

const HANGUL_BASE = 0xac00;
const HANGUL_COUNT = 11172;
const JAMO_LEAD = 0x1100;
const JAMO_VOWEL = 0x1161;
const JAMO_TAIL = 0x11a7;

/** A Hangul syllable's jamo (leading consonant, vowel, final consonant if any); other characters as they are. */
function jamoOf(ch: string): string[] {
  const code = ch.codePointAt(0) ?? 0;
  if (code < HANGUL_BASE || code >= HANGUL_BASE + HANGUL_COUNT) return [ch];
  const s = code - HANGUL_BASE;
  const tail = s % 28;
  const out = [String.fromCodePoint(JAMO_LEAD + Math.floor(s / 588)), String.fromCodePoint(JAMO_VOWEL + Math.floor((s % 588) / 28))];
  if (tail !== 0) out.push(String.fromCodePoint(JAMO_TAIL + tail));
  return out;
}

/** The encoder's input tokens for `word` and, per token, the index (in code points) of its character. */
export function g2pTokens(word: string): { tokens: string[]; positions: number[] } {
  const tokens: string[] = [];
  const positions: number[] = [];
  Array.from(word).forEach((ch, i) => {
    if (/\s/u.test(ch)) return;
    for (const lower of ch.toLowerCase()) {
      for (const t of jamoOf(lower)) {
        tokens.push(t);
        positions.push(i);
      }
    }
  });
  return { tokens, positions };
}

async function readVocab(path: string): Promise<Vocab> {
  const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<Record<'encoder' | 'decoder', unknown>>;
  const isList = (x: unknown): x is string[] => Array.isArray(x) && x.every((t) => typeof t === 'string');
  if (!isList(parsed.encoder) || !isList(parsed.decoder)) throw new Error(`${path} has no "encoder" and "decoder" token lists`);
  return { encoder: parsed.encoder, decoder: parsed.decoder };
}

export async function loadG2p(modelsDir: string, { threads = 1, maxSteps = G2P_MAX_STEPS }: G2pOptions = {}): Promise<G2p> {
  const dir = join(modelsDir, PHONEME_MODEL_DIR);
  const vocab = await readVocab(join(dir, 'g2p_vocab.json'));
  const encoderId = new Map(vocab.encoder.map((t, i) => [t, i]));
  const idOf = (list: string[], token: string): number => {
    const i = list.indexOf(token);
    if (i < 0) throw new Error(`${dir}/g2p_vocab.json has no "${token}"`);
    return i;
  };
  const inPad = idOf(vocab.encoder, '<pad>');
  const inUnk = idOf(vocab.encoder, '<unk>');
  const outPad = idOf(vocab.decoder, '<pad>');
  const sos = idOf(vocab.decoder, '<sos>');
  const eos = idOf(vocab.decoder, '<eos>');

  // No arena: the G2P runs for a few words per request; an arena would keep its peak for good.
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, enableCpuMemArena: false };
  const encoder = await ort.InferenceSession.create(join(dir, 'encoder.onnx'), options);
  const step = await ort.InferenceSession.create(join(dir, 'decoder_step.onnx'), options);
  const need = (what: string, names: string[], have: readonly string[]): void => {
    for (const n of names) if (!have.includes(n)) throw new Error(`G2P ${what} has no "${n}" (has: ${have.join(', ')})`);
  };
  need('encoder input', ['input_ids', 'input_lengths'], encoder.inputNames);
  need('encoder output', ['encoder_outputs', 'projected_keys', 'hidden', 'encoder_mask', 'prev_attn'], encoder.outputNames);
  need('decoder step input', ['decoder_input_ids', 'encoder_outputs', 'projected_keys', 'encoder_mask', 'prev_attn', 'hidden', 'positions'], step.inputNames);
  need('decoder step output', ['next_token_ids', 'hidden_out', 'prev_attn_out', 'attn_argmax'], step.outputNames);

  return {
    async word(text) {
      const { tokens, positions } = g2pTokens(text);
      if (tokens.length === 0) return { phonemes: [], letters: [] };
      const length = Math.min(tokens.length, G2P_MAX_INPUT);
      const ids = new BigInt64Array(G2P_MAX_INPUT).fill(BigInt(inPad));
      for (let i = 0; i < length; i++) ids[i] = BigInt(encoderId.get(tokens[i]) ?? inUnk);
      const enc = await encoder.run({
        input_ids: new ort.Tensor('int64', ids, [1, G2P_MAX_INPUT]),
        input_lengths: new ort.Tensor('int64', BigInt64Array.of(BigInt(length)), [1]),
      });
      const { encoder_outputs: encoderOutputs, projected_keys: projectedKeys, encoder_mask: encoderMask } = enc;
      let hidden = enc.hidden;
      let prevAttn = enc.prev_attn;
      const srcLen = encoderOutputs.dims[1] ?? 0;
      const positionsTensor = new ort.Tensor('float32', Float32Array.from({ length: srcLen }, (_, i) => i), [1, srcLen]);

      const phonemes: string[] = [];
      const letters: number[] = [];
      let previous = sos;
      try {
        for (let n = 0; n < maxSteps; n++) {
          const out = await step.run({
            decoder_input_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(previous)), [1, 1]),
            encoder_outputs: encoderOutputs,
            projected_keys: projectedKeys,
            encoder_mask: encoderMask,
            prev_attn: prevAttn,
            hidden,
            positions: positionsTensor,
          });
          hidden.dispose();
          prevAttn.dispose();
          hidden = out.hidden_out;
          prevAttn = out.prev_attn_out;
          const token = Number((out.next_token_ids.data as BigInt64Array)[0]);
          const attended = Number((out.attn_argmax.data as BigInt64Array)[0]);
          out.next_token_ids.dispose();
          out.attn_argmax.dispose();
          if (token === eos) break;
          previous = token;
          if (token === outPad || (token === sos && phonemes.length === 0)) continue;
          const phoneme = vocab.decoder[token];
          if (phoneme === undefined) throw new Error(`G2P wrote token ${token}, its vocabulary has ${vocab.decoder.length}`);
          phonemes.push(phoneme);
          letters.push(attended >= 0 && attended < length ? positions[attended] : -1);
        }
      } finally {
        for (const t of [encoderOutputs, projectedKeys, encoderMask, hidden, prevAttn]) t.dispose();
      }
      return { phonemes, letters };
    },
    async close() {
      await encoder.release();
      await step.release();
    },
  };
}

/**
 * Cuts `word`'s letters (code points) into contiguous chunks, one per phoneme, in order, together
 * covering every letter: chunk i is the letters phoneme i spells. `links[i]` is the letter the
 * model linked phoneme i to (-1 or out of range: no preference). The links are forced left to
 * right: of all monotonic cuts, the one whose chunks hold their phonemes' links best (fewest
 * letters between a link and its chunk, summed); letters no link claims (silent `e`, `h`) join
 * the earlier chunk on ties. No chunk is empty unless there are more phonemes than letters (`x`
 * spelling k s); then the fewest are, and an empty chunk follows the chunk holding its link.
 *
 *   letterChunks('false', [0, 1, 2, 3]) -> ['f', 'a', 'l', 'se']
 */
export function letterChunks(word: string, links: readonly number[]): string[] {
  const chars = Array.from(word);
  const n = chars.length;
  const m = links.length;
  if (m === 0) return [];
  // Ends e[0..m-1], non-decreasing, e[m-1] = n; chunk i = [e[i-1], e[i]) with e[-1] = 0.
  // An empty chunk costs more than any sum of distances, so there are as few as possible.
  const EMPTY = m * (n + 1) + 1;
  const cost = (i: number, a: number, b: number): number => {
    const l = links[i];
    const known = Number.isInteger(l) && l >= 0 && l < n;
    if (a === b) return EMPTY + (known ? Math.min(Math.abs(l - (a - 1)), Math.abs(l - a)) : 0);
    if (!known) return 0;
    return l < a ? a - l : l >= b ? l - b + 1 : 0;
  };
  // best[i][b]: least cost of phonemes 0..i with e[i] = b; from[i][b]: the e[i-1] it came from.
  const best: number[][] = [];
  const from: number[][] = [];
  for (let i = 0; i < m; i++) {
    best.push(new Array<number>(n + 1).fill(Infinity));
    from.push(new Array<number>(n + 1).fill(-1));
    for (let b = 0; b <= n; b++) {
      if (i === 0) {
        best[0][b] = cost(0, 0, b);
        from[0][b] = 0;
        continue;
      }
      // On ties prefer the larger a: earlier chunks take unclaimed letters.
      for (let a = b; a >= 0; a--) {
        const c = best[i - 1][a] + cost(i, a, b);
        if (c < best[i][b]) {
          best[i][b] = c;
          from[i][b] = a;
        }
      }
    }
  }
  const chunks = new Array<string>(m);
  let b = n;
  for (let i = m - 1; i >= 0; i--) {
    const a = i === 0 ? 0 : from[i][b];
    chunks[i] = chars.slice(a, b).join('');
    b = a;
  }
  return chunks;
}
