/**
 * Forced decoding (teacher forcing) of a target text against one 30 s window: the decoder runs
 * once over `[sot, lang, transcribe, notimestamps] + tokens(' ' + text)` against the window's
 * cross-attention K/V, and each target token gets the log-probability the model gave it at its
 * position (log-softmax of the row before it). What Korean pronunciation assessment scores
 * (src/speech/assessment/korean.ts): there is no Korean phoneme recogniser, but Whisper's decoder
 * knows how likely a given text is, given the audio.
 *
 * Whisper's tokenizer is byte-level BPE: a token holds bytes of the UTF-8 text, so it may hold
 * part of a character (a rare Hangul syllable is 3 bytes, often 2 tokens). Each token is given the
 * characters of the text its bytes touch, [start, end) in code points of `text`: a character split
 * over two tokens lies in both tokens' ranges.
 */
import ort from 'onnxruntime-node';
import type { WhisperModel } from './model.js';
import { DecoderRunner } from './decoder-runner.js';
import { LogMelExtractor, WINDOW_FRAMES } from './features.js';
import { logSumExp } from './search.js';

export interface ForcedToken {
  id: number;
  /** First character (code point index into the target text) whose bytes the token holds. */
  start: number;
  /** One past the last such character. */
  end: number;
  /** text.slice(start, end) in code points: the whole characters the token touches. */
  piece: string;
  /** log P(this token | audio, prefix, earlier target tokens). */
  logProb: number;
  /** log P of the most likely token at this position (>= logProb). */
  bestLogProb: number;
  /** How many tokens the model preferred here (0: this token was its first choice). */
  rank: number;
}

export interface ForcedText {
  /** The target text, as given (the decoder saw ' ' + text). */
  text: string;
  tokens: ForcedToken[];
  /** log P(end of text) after the last target token: low when the audio says more. */
  endLogProb: number;
}

/**
 * The Whisper byte-level alphabet (GPT-2's `bytes_to_unicode`): each byte 0-255 stands for one
 * printable character in a token's string. Returns character -> byte.
 */
export function byteDecoder(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const chars = bytes.map((b) => b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + n++);
    }
  }
  return new Map(bytes.map((b, i) => [String.fromCodePoint(chars[i]), b]));
}

const BYTE_DECODER = byteDecoder();

/** A token's UTF-8 bytes from its byte-level string (as `id_to_token` gives it). */
export function tokenBytes(token: string): number[] {
  return Array.from(token, (ch) => {
    const b = BYTE_DECODER.get(ch);
    if (b === undefined) throw new Error(`token ${JSON.stringify(token)} holds ${JSON.stringify(ch)}, not a byte-level character`);
    return b;
  });
}

/**
 * Character ranges of tokens over `forced` (the string that was tokenised), given each token's
 * byte length, shifted by `-skip` characters (the leading space) and clamped at 0. Throws when
 * the bytes do not add up to the string's UTF-8 length (the tokenizer changed the text).
 */
export function tokenRanges(forced: string, byteLengths: readonly number[], skip = 0): { start: number; end: number }[] {
  // charOfByte[k]: the code point index holding UTF-8 byte k.
  const charOfByte: number[] = [];
  Array.from(forced).forEach((ch, i) => {
    const n = Buffer.byteLength(ch, 'utf8');
    for (let k = 0; k < n; k++) charOfByte.push(i);
  });
  const total = byteLengths.reduce((s, n) => s + n, 0);
  if (total !== charOfByte.length) throw new Error(`tokens hold ${total} bytes, the text ${charOfByte.length}`);
  const out: { start: number; end: number }[] = [];
  let at = 0;
  for (const n of byteLengths) {
    if (n === 0) {
      const c = at < charOfByte.length ? charOfByte[at] : Array.from(forced).length;
      out.push({ start: Math.max(0, c - skip), end: Math.max(0, c - skip) });
      continue;
    }
    const first = charOfByte[at];
    const last = charOfByte[at + n - 1];
    out.push({ start: Math.max(0, first - skip), end: Math.max(0, last + 1 - skip) });
    at += n;
  }
  return out;
}

/** Per row of `logits` [rows, vocab]: log-softmax at `targets[row]`, the best log-prob, the target's rank. */
export function rowScores(logits: Float32Array, vocab: number, firstRow: number, targets: readonly number[]): { logProb: number; bestLogProb: number; rank: number }[] {
  return targets.map((t, k) => {
    const from = (firstRow + k) * vocab;
    const own = logits[from + t];
    let max = -Infinity;
    let rank = 0;
    for (let i = from; i < from + vocab; i++) {
      const v = logits[i];
      if (v > max) max = v;
      if (v > own) rank++;
    }
    const lse = logSumExp(logits, from, from + vocab);
    return { logProb: own - lse, bestLogProb: max - lse, rank };
  });
}

/** The target has more tokens than the decoder takes after its prefix. */
export class ForcedTextTooLongError extends RangeError {
  constructor(readonly tokens: number, readonly maxTokens: number) {
    super(`target text is ${tokens} tokens, a window holds at most ${maxTokens}`);
    this.name = 'ForcedTextTooLongError';
  }
}

/**
 * Forced decoding of texts against windows. One per model (it holds a DecoderRunner and, once
 * asked for, the cross K/V of a silent window).
 */
export class ForcedTextScorer {
  readonly model: WhisperModel;
  readonly runner: DecoderRunner;
  private readonly mel: LogMelExtractor;
  private silent: ort.Tensor[] | undefined;

  constructor(model: WhisperModel, runner = new DecoderRunner(model)) {
    this.model = model;
    this.runner = runner;
    this.mel = new LogMelExtractor(model.nMels);
  }

  /** `[sot, lang, transcribe, notimestamps]`, as the transcriber decodes a window that fits. */
  prefix(language: string): number[] {
    const lang = this.model.langToId.get(language);
    if (lang === undefined) throw new Error(`model ${this.model.name} does not know language "${language}"`);
    const { sot, transcribe, noTimestamps } = this.model.tokens;
    return [sot, lang, transcribe, noTimestamps];
  }

  /** Token ids of ' ' + text with each token's character range in `text` (see ForcedToken). */
  tokenize(text: string): { ids: number[]; ranges: { start: number; end: number }[] } {
    const forced = ' ' + text;
    const ids = this.model.tokenizer.encode(forced, { add_special_tokens: false }).ids;
    const lengths = ids.map((id: number) => {
      const tok = this.model.tokenizer.id_to_token(id);
      if (tok === undefined) throw new Error(`token id ${id} has no string`);
      return tokenBytes(tok).length;
    });
    return { ids, ranges: tokenRanges(forced, lengths, 1) };
  }

  /**
   * Forced decoding of `text` against one window's cross-attention K/V (`cache.cross` of the
   * transcriber's prefill, or `encodeWindow`). One decoder pass; nothing is cached.
   */
  async score(cross: ort.Tensor[], language: string, text: string): Promise<ForcedText> {
    const prefix = this.prefix(language);
    const { ids, ranges } = this.tokenize(text);
    const { eot } = this.model.tokens;
    const maxTokens = this.model.maxLength - prefix.length - 1;
    if (ids.length > maxTokens) throw new ForcedTextTooLongError(ids.length, maxTokens);
    const seq = [...prefix, ...ids];
    const { logits } = await this.runner.attend(seq, cross, []);
    // Row i is the distribution after seq[i]: target j (seq index prefix.length + j) is read off row prefix.length + j - 1.
    const scores = rowScores(logits, this.model.vocabSize, prefix.length - 1, [...ids, eot]);
    const chars = Array.from(text);
    return {
      text,
      tokens: ids.map((id, j) => ({ id, ...ranges[j], piece: chars.slice(ranges[j].start, ranges[j].end).join(''), ...scores[j] })),
      endLogProb: scores[ids.length].logProb,
    };
  }

  /** Log-mel, encoder and cross K/V of up to 30 s of 16 kHz PCM (for benches and tests; the server reuses the transcription's). */
  async encodeWindow(pcm: Float32Array): Promise<ort.Tensor[]> {
    const features = this.mel.extract(pcm);
    const out = await this.model.encoder.run({ input_features: new ort.Tensor('float32', features, [1, this.model.nMels, WINDOW_FRAMES]) });
    return this.runner.crossKv(out.last_hidden_state);
  }

  /** Cross K/V of a silent window, computed once: forced decoding against it gives a text's audio-free prior. */
  async silence(): Promise<ort.Tensor[]> {
    this.silent ??= await this.encodeWindow(new Float32Array(0));
    return this.silent;
  }
}
