/**
 * One request's transcription inside an inference process: the 30 s window loop with temperature
 * fallback, keyword bias, stream drafts and word timings; tokens become segments in segments.ts.
 */
import { deflateSync } from 'node:zlib';
import ort from 'onnxruntime-node';
import { UnsupportedLanguageError, type KeywordBoost, type Segment, type Task, type Transcript } from '../engine.js';
import { LogMelExtractor, SAMPLE_RATE, HOP, WINDOW_FRAMES, WINDOW_SAMPLES } from './features.js';
import type { WhisperModel } from './model.js';
import { DecoderRunner } from './decoder-runner.js';
import { LockstepDecoding } from './lockstep.js';
import { LogitRules, acceptDraft, beamSearch, sampleSearch, mulberry32, AbortedError, type SearchResult, type SearchStart } from './search.js';
import type { KvCache, PrefillResult } from './decoder-runner.js';
import { alignWords } from './alignment.js';
import { DEFAULT_TOKEN_BONUS, KeywordBias, keywordPrompt, keywordSequences } from './keyword-bias.js';
import { contextFrames, type ShortEncoder } from './short-encoder.js';
import { PaddedCross } from './padded-cross.js';
import { LruCache } from '../lru-cache.js';
import { alignmentTokens, splitAtTimestamps, transcriptOf, windowSegments, wordsBySegment, type SegmentWord, type WindowSegment } from './segments.js';

export interface WhisperOptions {
  /** Absent: detected from the first window (see TranscribeOptions.language). */
  language?: string;
  task?: Task;
  prompt?: string;
  boost?: KeywordBoost;
  beamSize: number;
  wordTimestamps: boolean;
  temperatureFallback: boolean;
  /** The first temperature tried (default 0); see TranscribeOptions.temperature. */
  temperature?: number;
  /** Timestamp tokens even for audio that fits one window (see TranscribeOptions.segmentTimestamps). */
  segmentTimestamps?: boolean;
  /**
   * Audio shorter than a window: encode only the audio plus a margin (see short-encoder.ts).
   * Needs a short encoder at construction; ignored without one.
   */
  shortContext?: boolean;
  /** Text this audio is expected to begin with (see TranscribeOptions.draft); text-only windows. */
  draft?: string;
  signal?: AbortSignal;
  /** Awaited before every model run: where a more urgent request may cut in (see RunGate). */
  turn?: () => Promise<void>;
  /**
   * Called once per window after its decode, with the window's cross-attention K/V: Korean
   * pronunciation assessment scores its target text against the same encoder pass.
   */
  onWindow?: (window: DecodedWindow) => Promise<void>;
  /** The runner the window's searches step on (transcribeMany's lockstep member), else the transcriber's own. */
  searchRunner?: DecoderRunner;
}

export interface DecodedWindow {
  /** Per decoder layer, the window's cross-attention key and value. */
  cross: ort.Tensor[];
  /** Where the window starts in the audio, in seconds. */
  offsetS: number;
}

// faster-whisper's defaults, so accuracy is comparable like for like.
const TEMPERATURES = [0, 0.2, 0.4, 0.6, 0.8, 1.0];
const BEST_OF = 5;
const COMPRESSION_RATIO_THRESHOLD = 2.4;
const LOG_PROB_THRESHOLD = -1.0;
const NO_SPEECH_THRESHOLD = 0.6;
/** Keyword tries kept for reuse: a stream decodes the same keywords for every partial result. */
const BIAS_CACHE_SIZE = 8;
/**
 * Audio after the content and rounding, for the short encoder: from a 0.5 s margin on, CER
 * stays within ~0.5 point of full context (bench/short-encoder.ts); whole seconds keep the
 * number of input shapes ORT plans for small.
 */
const SHORT_CONTEXT = { marginS: 1, roundS: 1, minS: 0 };
/**
 * Beam search with a draft (see checkDraft, acceptDraft): the margin a draft token must lead the
 * runner-up by, and the tokens at its end left to the search. Measured (ko quick clips, beam 2,
 * draft = greedy text of the first 80% of the audio; errors, ms per clip): no draft 117, 722;
 * margin 0 / hold 0: 170 (repeats), 553; 0 / 3: 121, 523; 0 / 6: 129, 544; 0.5 / 3: 125, 598;
 * 1 / 3: 127, 649.
 */
const DRAFT_MARGIN = 0;
const DRAFT_HOLD = 3;

/** A search's head start from a checked draft: its tokens, the cache holding them, the next row. */
interface DraftHead {
  start: SearchStart;
  cache: KvCache;
  row: Float32Array;
}

interface WindowResult extends SearchResult {
  temperature: number;
  compressionRatio: number;
  noSpeechProb: number;
}

/** What every window of one request shares: the decoder's prefix and what its search may do. */
interface RequestPlan {
  /** Start of transcript, language, task. */
  sotSequence: number[];
  /** Prompt (if any), the sot sequence and, for text-only decoding, no-timestamps. */
  prefix: number[];
  /** Where the sot token is in the prefix: its row gives the no-speech probability. */
  sotIndex: number;
  /** Most tokens the search may write. */
  sampleLen: number;
  /** The audio fits one window: decoded without timestamp tokens. */
  textOnly: boolean;
  bias: KeywordBias | undefined;
}

export { AbortedError };

/**
 * Whisper's long-audio loop: decode a 30 s window with timestamps, cut segments at timestamp
 * pairs, seek to the last complete segment, repeat. With fallback to sampling at higher
 * temperatures when the output repeats itself or has low confidence.
 */
export class WhisperTranscriber {
  private readonly model: WhisperModel;
  private readonly mel: LogMelExtractor;
  private readonly runner: DecoderRunner;
  private readonly rules: LogitRules;
  private readonly hasCrossAttentions: boolean;
  private readonly biasCache = new LruCache<string, KeywordBias>(BIAS_CACHE_SIZE);
  private readonly shortEncoder: ShortEncoder | undefined;
  private readonly paddedCross: PaddedCross | undefined;

  /** `runner`: the decoder runner to use, e.g. one that batches the steps of concurrent requests (step-batcher.ts). */
  constructor(model: WhisperModel, shortEncoder?: ShortEncoder, runner = new DecoderRunner(model)) {
    this.model = model;
    this.shortEncoder = shortEncoder;
    this.hasCrossAttentions = model.decoder.outputNames.includes('cross_attentions.0');
    this.mel = new LogMelExtractor(model.nMels);
    this.runner = runner;
    this.rules = new LogitRules(model);
    // The padding: the encoder output of a silent full window (the worker's encoder session may be
    // the short encoder's own; it computes full windows exactly as the shipped graph).
    this.paddedCross = shortEncoder === undefined ? undefined : new PaddedCross(this.runner, () => this.encodeWindow(this.mel.extract(new Float32Array(0))));
  }

  /** Drops the short-context padding's buffers until a short-context request needs them again (PaddedCross.drop). */
  dropShortContextBuffers(): void {
    this.paddedCross?.drop();
  }

  /**
   * Several pieces of audio (a long-form job's windows) with the same options, their first
   * searches decoded in lockstep (lockstep.ts) when the model's decoder is the grouped graph
   * without padding (`lockstep`); one after the other otherwise. Each transcript is what
   * `transcribe` gives for its audio, up to the rounding a joined run brings (see lockstep.ts).
   */
  async transcribeMany(pcms: Float32Array[], opts: WhisperOptions, lockstep: boolean): Promise<Transcript[]> {
    if (!lockstep || pcms.length < 2) {
      const out: Transcript[] = [];
      for (const pcm of pcms) out.push(await this.transcribe(pcm, opts));
      return out;
    }
    const set = new LockstepDecoding(this.model, pcms.length);
    const settled = await Promise.allSettled(pcms.map(async (pcm, i) => {
      try {
        return await this.transcribe(pcm, { ...opts, searchRunner: set.runners[i] });
      } finally {
        set.leave(i);
      }
    }));
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<Transcript>).value);
  }

  async transcribe(pcm: Float32Array, opts: WhisperOptions): Promise<Transcript> {
    // No language given: the first window's encoder pass identifies it, and is then decoded.
    let firstEncoder: ort.Tensor | undefined;
    let language = opts.language;
    if (language === undefined) {
      await opts.turn?.();
      firstEncoder = await this.encodeWindow(this.mel.extract(pcm.subarray(0, WINDOW_SAMPLES)));
      await opts.turn?.();
      language = await this.detectLanguage(firstEncoder);
    }
    const plan = this.plan(pcm.length, language, opts);
    const rng = mulberry32(pcm.length);
    const contentFrames = Math.floor(pcm.length / HOP);
    const audioEndS = pcm.length / SAMPLE_RATE;
    const segments: Segment[] = [];
    const releases: (() => void)[] = [];
    try {
      let seek = 0;
      while (seek < contentFrames) {
        if (opts.signal?.aborted) throw new AbortedError();
        const offsetS = (seek * HOP) / SAMPLE_RATE;
        const segmentFrames = Math.min(WINDOW_FRAMES, contentFrames - seek);
        const features = this.mel.extract(pcm.subarray(seek * HOP, seek * HOP + WINDOW_SAMPLES));
        const prefill = await this.prefillWindow(features, pcm.length, plan, opts, releases, seek === 0 ? firstEncoder : undefined);
        const best = await this.decodeWindow(prefill, plan, opts, rng);
        await opts.onWindow?.({ cross: prefill.cache.cross, offsetS });
        if (best.noSpeechProb > NO_SPEECH_THRESHOLD && best.avgLogprob < LOG_PROB_THRESHOLD) {
          // Silence: on to the next window.
          seek += segmentFrames;
          continue;
        }
        const split = splitAtTimestamps(best.tokens, best.tokenLogprobs, this.model.tokens.timestampBegin, offsetS, segmentFrames);
        const windowSeek = seek;
        seek += split.seekFrames;
        let words: SegmentWord[] | undefined;
        if (opts.wordTimestamps) {
          await opts.turn?.();
          words = await this.alignWindow(prefill.cache.cross, plan.sotSequence, split.segments, segmentFrames, offsetS, language);
        }
        const decode = { seek: windowSeek, temperature: best.temperature, compressionRatio: best.compressionRatio };
        segments.push(...windowSegments(split.segments, (t) => this.decodeText(t), { ...best, decode }, audioEndS, words));
      }
    } finally {
      for (const release of releases) release();
    }
    return transcriptOf(segments, language, audioEndS);
  }

  /**
   * Whisper's language identification: the language token the decoder likes best right after
   * start-of-transcript, on the first window (openai-whisper's detect_language).
   */
  private async detectLanguage(encoderOut: ort.Tensor): Promise<string> {
    const { logits } = await this.runner.prefill([this.model.tokens.sot], encoderOut);
    let best: string | undefined;
    let bestLogit = -Infinity;
    for (const [code, id] of this.model.langToId) {
      if (logits[id] > bestLogit) {
        bestLogit = logits[id];
        best = code;
      }
    }
    if (best === undefined) throw new Error(`model ${this.model.name} lists no languages`);
    return best;
  }

  /** The prompt, keyword bias and decoder prefix of a request of `samples` samples. */
  private plan(samples: number, language: string, opts: WhisperOptions): RequestPlan {
    const langId = this.model.langToId.get(language);
    if (langId === undefined) throw new UnsupportedLanguageError(`model ${this.model.name} does not know language "${language}"`);
    const { sot, sotPrev, transcribe, translate, noTimestamps } = this.model.tokens;
    const sotSequence = [sot, langId, opts.task === 'translate' ? translate : transcribe];
    const maxPromptTokens = Math.floor(this.model.maxLength / 2) - 1;
    const keywords = opts.boost?.keywords.filter((k) => k.trim() !== '') ?? [];
    let promptText = opts.prompt;
    if ((promptText === undefined || !promptText.trim()) && keywords.length > 0 && opts.boost?.prompt === true) {
      promptText = keywordPrompt(keywords, (t) => this.encode(t).length, maxPromptTokens);
    }
    let promptIds: number[] = [];
    if (promptText && promptText.trim()) {
      const ids = this.encode(' ' + promptText.trim());
      promptIds = [sotPrev, ...ids.slice(-maxPromptTokens)];
    }
    const weight = opts.boost?.weight ?? 1;
    const bias = keywords.length > 0 && weight > 0 ? this.keywordBias(keywords, DEFAULT_TOKEN_BONUS * weight) : undefined;
    // Audio that fits one window is decoded without timestamp tokens. Measured on the quick set
    // at beam 5 (errors, timestamps -> text only): en 48 -> 45, ko 111 -> 109, zh 93 -> 90,
    // ja 74 -> 77, 326 -> 321 in all, and fewer decoder steps. Longer audio keeps timestamps:
    // the seek loop cuts segments at them; so does a caller that wants Whisper's segments.
    const textOnly = samples <= WINDOW_SAMPLES && opts.segmentTimestamps !== true;
    const prefix = [...promptIds, ...sotSequence, ...(textOnly ? [noTimestamps] : [])];
    const sampleLen = Math.min(Math.floor(this.model.maxLength / 2), this.model.maxLength - prefix.length);
    return { sotSequence, prefix, sotIndex: promptIds.length, sampleLen, textOnly, bias };
  }

  /**
   * One window's encoder pass, then the decoder's pass over the prefix. Short audio with
   * `shortContext`: the short encoder on the audio plus a margin, padded to a full window's
   * cross-attention input (released by the caller through `releases`).
   */
  private async prefillWindow(
    features: Float32Array, audioSamples: number, plan: RequestPlan, opts: WhisperOptions, releases: (() => void)[],
    encoded?: ort.Tensor,
  ): Promise<PrefillResult> {
    await opts.turn?.();
    // Already encoded (to identify the language): decode that.
    if (encoded !== undefined) return await this.runner.prefill(plan.prefix, encoded);
    if (plan.textOnly && opts.shortContext === true && this.shortEncoder !== undefined && this.paddedCross !== undefined) {
      const head = await this.shortEncoder.encode(features, contextFrames(audioSamples, SHORT_CONTEXT));
      await opts.turn?.();
      const padded = await this.paddedCross.acquire(head);
      releases.push(padded.release);
      await opts.turn?.();
      return await this.runner.prefillCross(plan.prefix, padded.cross);
    }
    const encoderOut = await this.encodeWindow(features);
    await opts.turn?.();
    return await this.runner.prefill(plan.prefix, encoderOut);
  }

  /** The window's tokens after the prefix: from the draft's head start if it holds, with fallback. */
  private async decodeWindow(prefill: PrefillResult, plan: RequestPlan, opts: WhisperOptions, rng: () => number): Promise<WindowResult> {
    const vocab = this.model.vocabSize;
    const noSpeechProb = softmaxAt(prefill.logits, plan.sotIndex * vocab, vocab, this.model.tokens.noSpeech);
    const lastRow = prefill.logits.slice((plan.prefix.length - 1) * vocab, plan.prefix.length * vocab);
    const draftHead = plan.textOnly && opts.draft !== undefined
      ? await this.checkDraft(opts.draft, lastRow, prefill.cache, plan.sampleLen, opts, plan.bias)
      : undefined;
    return this.decodeWithFallback(lastRow, prefill.cache, noSpeechProb, plan.sampleLen, !plan.textOnly, opts, rng, plan.bias, draftHead);
  }

  private encode(text: string): number[] {
    return this.model.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  private keywordBias(keywords: string[], bonus: number): KeywordBias | undefined {
    const key = `${bonus}\u0000${keywords.join('\u0000')}`;
    let bias = this.biasCache.get(key);
    if (bias === undefined) {
      bias = new KeywordBias(keywordSequences(keywords, (t) => this.encode(t)), bonus);
      this.biasCache.set(key, bias);
    }
    return bias.empty ? undefined : bias;
  }

  /** The text tokens of a sampled sequence: no timestamps, no end-of-text. */
  private textTokens(tokens: number[]): number[] {
    return tokens.filter((t) => t < this.model.tokens.eot);
  }

  private decodeText(tokens: number[]): string {
    return this.model.tokenizer.decode(this.textTokens(tokens), { skip_special_tokens: true });
  }

  /** The full encoder on one 30 s window's log-mel: [1, 1500, d_model]. */
  private async encodeWindow(features: Float32Array): Promise<ort.Tensor> {
    return (await this.model.encoder.run({ input_features: new ort.Tensor('float32', features, [1, this.model.nMels, WINDOW_FRAMES]) })).last_hidden_state;
  }

  /**
   * Runs the draft's tokens through the decoder in one pass after the prompt and keeps the prefix
   * the search would write itself. The draft is tokenised with and without a leading space (the
   * text given is trimmed: Whisper starts most text with a space, Chinese and Japanese not
   * always), whichever first token the model prefers. For beam search the last DRAFT_HOLD tokens
   * are left to the search: a draft taken to its very end leaves the second beam nothing to do
   * but start the sentence again, and length normalisation then prefers the repeat.
   * Its own pass, not the prompt's: activations are quantised per tensor, and one pass over
   * prompt and draft together made greedy text worse (ko quick clips, 131 -> 141 errors).
   */
  private async checkDraft(
    draft: string, lastRow: Float32Array, cache: KvCache, sampleLen: number, opts: WhisperOptions, bias: KeywordBias | undefined,
  ): Promise<DraftHead | undefined> {
    const text = draft.trim();
    if (text === '') return undefined;
    const spaced = this.encode(' ' + text);
    const bare = this.encode(text);
    const pick = (lastRow[bare[0]] ?? -Infinity) > (lastRow[spaced[0]] ?? -Infinity) ? bare : spaced;
    const hold = opts.beamSize > 1 ? DRAFT_HOLD : 0;
    const ids = pick.slice(0, Math.max(0, Math.min(sampleLen - 1, pick.length - hold)));
    if (ids.length === 0) return undefined;
    await opts.turn?.();
    const ext = await this.runner.extend(ids, cache);
    const vocab = this.model.vocabSize;
    // Row i is the distribution before ids[i]: the prompt's last row, then the pass's rows.
    const rows = new Float32Array(ids.length * vocab);
    rows.set(lastRow);
    rows.set(ext.logits.subarray(0, (ids.length - 1) * vocab), vocab);
    const start = acceptDraft(this.rules, this.model.tokens.eot, rows, vocab, ids, bias, opts.beamSize > 1 ? DRAFT_MARGIN : 0);
    const accepted = start.tokens.length;
    if (accepted === 0) return undefined;
    return { start, cache: this.runner.truncate(ext.cache, cache.length + accepted), row: ext.logits.slice((accepted - 1) * vocab, accepted * vocab) };
  }

  private async decodeWithFallback(
    lastRow: Float32Array, cache: KvCache, noSpeechProb: number,
    sampleLen: number, timestamps: boolean, opts: WhisperOptions, rng: () => number, bias: KeywordBias | undefined,
    head?: DraftHead,
  ): Promise<WindowResult> {
    const first = opts.temperature ?? 0;
    const temps = opts.temperatureFallback ? [first, ...TEMPERATURES.filter((t) => t > first)] : [first];
    const all: WindowResult[] = [];
    const repaired: WindowResult[] = [];
    for (const temperature of temps) {
      const searchOpts = {
        beamSize: Math.max(1, opts.beamSize), temperature, bestOf: BEST_OF, sampleLen,
        timestamps, rng, signal: opts.signal, turn: opts.turn, bias,
      };
      const { eot, timestampBegin } = this.model.tokens;
      const runner = opts.searchRunner ?? this.runner;
      // A draft only starts the deterministic search: fallback means that path went wrong.
      const result = temperature === 0 && head !== undefined
        ? await beamSearch(runner, this.rules, eot, timestampBegin, head.row.slice(), head.cache, { ...searchOpts, start: head.start })
        : temperature === 0
        ? await beamSearch(runner, this.rules, eot, timestampBegin, lastRow.slice(), cache, searchOpts)
        : await sampleSearch(runner, this.rules, eot, timestampBegin, lastRow.slice(), cache, searchOpts);
      const text = this.decodeText(result.tokens);
      const res: WindowResult = { ...result, temperature, compressionRatio: compressionRatio(text), noSpeechProb };
      all.push(res);
      if (res.looped || res.compressionRatio > COMPRESSION_RATIO_THRESHOLD) {
        // A looping result cut after its second repeat is often the right text; it competes in the
        // final choice below, but never stops the fallback on its own.
        const trimmed = trimRepetition(result.tokens, timestampBegin);
        if (trimmed.length < result.tokens.length) {
          repaired.push({
            ...res, tokens: trimmed, tokenLogprobs: res.tokenLogprobs.slice(0, trimmed.length),
            compressionRatio: compressionRatio(this.decodeText(trimmed)), looped: false,
          });
        }
      }
      let needsFallback = res.looped || res.compressionRatio > COMPRESSION_RATIO_THRESHOLD || res.avgLogprob < LOG_PROB_THRESHOLD;
      if (noSpeechProb > NO_SPEECH_THRESHOLD && res.avgLogprob < LOG_PROB_THRESHOLD) needsFallback = false;
      if (!needsFallback) return res;
    }
    // Every temperature failed: like faster-whisper, prefer non-repetitive output, then confidence.
    const pool = [...all, ...repaired].filter((r) => !r.looped && r.compressionRatio <= COMPRESSION_RATIO_THRESHOLD);
    const from = pool.length ? pool : all;
    const best = from.reduce((a, b) => (b.avgLogprob > a.avgLogprob ? b : a));
    const tokens = trimRepetition(best.tokens, this.model.tokens.timestampBegin);
    return { ...best, tokens, tokenLogprobs: best.tokenLogprobs.slice(0, tokens.length) };
  }

  /** Word timings of a window's segments, from the alignment heads' cross-attention. */
  private async alignWindow(
    cross: ort.Tensor[], sotSequence: number[], segments: WindowSegment[],
    segmentFrames: number, offsetS: number, language: string,
  ): Promise<SegmentWord[]> {
    const { noTimestamps, eot } = this.model.tokens;
    const { perSegment, probabilities } = alignmentTokens(segments, eot);
    const textTokens = perSegment.flat();
    // Exports made without attention outputs cannot give word timings: leave them out, never fail.
    if (textTokens.length === 0 || this.model.alignmentHeads.length === 0 || !this.hasCrossAttentions) return [];
    const ids = [...sotSequence, noTimestamps, ...textTokens, eot];
    const layers = [...new Set(this.model.alignmentHeads.map(([l]) => l))];
    const attended = await this.runner.attend(ids, cross, layers);
    const attentions = new Map<number, ort.Tensor>();
    layers.forEach((l, i) => attentions.set(l, attended.crossAttentions[i]));
    const aligned = alignWords({
      attentions, heads: this.model.alignmentHeads, rowOffset: sotSequence.length, textTokens, tokenProbs: probabilities,
      numFrames: segmentFrames, language,
      decode: (t) => this.decodeText(t),
    });
    return wordsBySegment(aligned, perSegment.map((t) => t.length), offsetS);
  }
}

/** p(index) under the softmax of logits[from, from + length), in one pass (online log-sum-exp). */
function softmaxAt(logits: Float32Array, from: number, length: number, index: number): number {
  let max = -Infinity;
  let sum = 0;
  const end = from + length;
  for (let i = from; i < end; i++) {
    const v = logits[i];
    if (v > max) {
      sum = sum * Math.exp(max - v) + 1;
      max = v;
    } else if (v > max - 20) {
      // Logits 20 below the maximum add at most 52k · e^-20 ≈ 1e-4 to the sum.
      sum += Math.exp(v - max);
    }
  }
  return Math.exp(logits[from + index] - max) / sum;
}

export function compressionRatio(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === 0) return 0;
  return bytes.length / deflateSync(bytes).length;
}

/**
 * Last-resort guard when even sampling loops: cut the sequence where an n-gram (n <= 12 tokens)
 * starts repeating a third time in a row, so a stuck window yields its text once, not 50 times.
 */
export function trimRepetition(tokens: number[], timestampBegin: number): number[] {
  const text = tokens.filter((t) => t < timestampBegin);
  for (let i = 0; i < text.length; i++) {
    for (let n = 1; n <= 12 && i + 3 * n <= text.length; n++) {
      let repeats = true;
      for (let k = 0; k < n && repeats; k++) {
        if (text[i + k] !== text[i + n + k] || text[i + k] !== text[i + 2 * n + k]) repeats = false;
      }
      if (repeats) {
        // keep up to and including the second occurrence; map back to positions in `tokens`
        const keepText = i + 2 * n;
        let seen = 0;
        const out: number[] = [];
        for (const t of tokens) {
          if (t < timestampBegin) {
            if (seen >= keepText) break;
            seen++;
          }
          out.push(t);
        }
        return out;
      }
    }
  }
  return tokens;
}
