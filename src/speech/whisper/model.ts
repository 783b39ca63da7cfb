import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import { externalizedModel } from '../onnx-external.js';

/** What a Whisper model folder in the Hugging Face ONNX layout tells us, read once at load. */
const generationConfigSchema = z.object({
  alignment_heads: z.array(z.tuple([z.number(), z.number()])).optional(),
  lang_to_id: z.record(z.string(), z.number()),
  suppress_tokens: z.array(z.number()).default([]),
  begin_suppress_tokens: z.array(z.number()).default([220, 50257]),
  max_initial_timestamp_index: z.number().default(50),
  max_length: z.number().default(448),
});
export const modelConfigSchema = z.object({
  decoder_layers: z.number(),
  encoder_attention_heads: z.number().int().positive().optional(),
  decoder_attention_heads: z.number(),
  d_model: z.number(),
  num_mel_bins: z.number().default(80),
  vocab_size: z.number(),
});

export interface SpecialTokens {
  sot: number;
  eot: number;
  sotPrev: number;
  transcribe: number;
  translate: number;
  noTimestamps: number;
  noSpeech: number;
  timestampBegin: number;
}

export interface WhisperModel {
  name: string;
  encoder: ort.InferenceSession;
  decoder: ort.InferenceSession;
  tokenizer: Tokenizer;
  tokens: SpecialTokens;
  langToId: Map<string, number>;
  suppressTokens: number[];
  beginSuppressTokens: number[];
  maxInitialTimestampIndex: number;
  /** Tokens the decoder may hold in total (prompt + sampled). */
  maxLength: number;
  alignmentHeads: [number, number][];
  layers: number;
  heads: number;
  headDim: number;
  nMels: number;
  vocabSize: number;
}

export const ENCODER_FILE = 'onnx/encoder_model_quantized.onnx';
export const DECODER_FILE = 'onnx/decoder_model_merged_quantized.onnx';

/** A folder of the models directory holding a Whisper model in this layout. */
export interface InstalledWhisperModel {
  name: string;
  /** When the folder was last changed (installed), in Unix seconds. */
  createdS: number;
}

/**
 * The Whisper models a models directory holds: every folder (or link to one) with the encoder and
 * decoder files, registered names and users' own exports alike, by name.
 */
export function installedWhisperModels(modelsDir: string): InstalledWhisperModel[] {
  let names: string[];
  try {
    names = readdirSync(modelsDir);
  } catch {
    return [];
  }
  const out: InstalledWhisperModel[] = [];
  for (const name of names.sort()) {
    const dir = join(modelsDir, name);
    if (!existsSync(join(dir, ENCODER_FILE)) || !existsSync(join(dir, DECODER_FILE))) continue;
    try {
      out.push({ name, createdS: Math.floor(statSync(dir).mtimeMs / 1000) });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Session options of the Whisper sessions; `arena: false` for the encoder (see encoderSessionOptions). */
export function whisperSessionOptions(threads: number, arena = true): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: Math.max(1, threads),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    ...(arena ? {} : { enableCpuMemArena: false }),
  };
}

/**
 * The encoder runs without ORT's memory arena: an arena keeps the largest run's activations (a
 * 30 s window's attention maps, ~200 MB) resident for good. Measured with one session serving
 * full windows and short contexts (14 quick clips at beam 5, then at beam 2 with short context
 * and word timings, 1 thread, CPU time, two runs each): peak RSS 883-929 -> 697-747 MB, CPU time
 * +10-15% on full windows, none measurable on short contexts. The decoder keeps its arena: its
 * activations are small and it runs a hundred times per window. Since attention runs head by head
 * (encoder-heads.ts), a window's activations peak at ~70 MB rather than ~150; the arena stays off,
 * since memory, not CPU, is what issue 21 still lacks.
 */
export function encoderSessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return whisperSessionOptions(threads, false);
}

/** A folder for graphs with their weights in data files (onnx-external.ts), and who hears of it failing. */
export interface ModelCache {
  dir: string;
  /** Writing or loading the files failed (a full disk, a read-only data dir): the session was made from memory instead. */
  onError: (err: Error) => void;
}

/**
 * A session of a model's bytes. With a cache, its large weights go to a data file there first
 * (onnx-external.ts): ORT then keeps one copy of them rather than two, ~100 MB less for Whisper
 * base. `name` names the cached files.
 */
export async function sessionOf(
  bytes: Uint8Array, options: ort.InferenceSession.SessionOptions, cache?: ModelCache, name = 'model',
): Promise<ort.InferenceSession> {
  if (cache !== undefined) {
    try {
      return await ort.InferenceSession.create(externalizedModel(bytes, cache.dir, name).modelPath, options);
    } catch (err) {
      // Also when the files went away between writing and loading (another Sori version sharing
      // the data dir removed them as an older version): the bytes are still here.
      cache.onError(err instanceof Error ? err : new Error(String(err)));
    }
  }
  return ort.InferenceSession.create(bytes, options);
}

/** The cached files' name for one of a model's graphs: the model's folder name and what the graph is. */
export function cachedGraphName(modelDir: string, graph: string): string {
  return `${basename(resolve(modelDir)).replace(/[^\w.-]/g, '_')}.${graph}`;
}

/**
 * `encoder`, `decoder`: sessions already made from this model's files (the short encoder's, which
 * computes the same full windows; the grouped decoder's, which computes what the shipped one does
 * for one request), so the weights are loaded once.
 */
export async function loadWhisperModel(
  dir: string, name: string, threads: number,
  opts: { encoder?: ort.InferenceSession; decoder?: ort.InferenceSession; cache?: ModelCache } = {},
): Promise<WhisperModel> {
  const session = (file: string, graph: string, options: ort.InferenceSession.SessionOptions) => (opts.cache === undefined
    ? ort.InferenceSession.create(join(dir, file), options)
    : sessionOf(readFileSync(join(dir, file)), options, opts.cache, cachedGraphName(dir, graph)));
  const [encoder, decoder] = await Promise.all([
    opts.encoder ?? session(ENCODER_FILE, 'encoder', encoderSessionOptions(threads)),
    opts.decoder ?? session(DECODER_FILE, 'decoder', whisperSessionOptions(threads)),
  ]);
  const readJson = (f: string): unknown => JSON.parse(readFileSync(join(dir, f), 'utf8'));
  const tokenizerJson = readJson('tokenizer.json') as Record<string, unknown>;
  const tokenizerConfig = existsSync(join(dir, 'tokenizer_config.json')) ? readJson('tokenizer_config.json') : {};
  const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig as object);
  const gen = generationConfigSchema.parse(readJson('generation_config.json'));
  const cfg = modelConfigSchema.parse(readJson('config.json'));

  const added = new Map<string, number>();
  for (const t of (tokenizerJson.added_tokens as { id: number; content: string }[] | undefined) ?? []) {
    added.set(t.content, t.id);
  }
  const need = (...names: string[]): number => {
    for (const n of names) {
      const id = added.get(n);
      if (id !== undefined) return id;
    }
    throw new Error(`model ${name}: tokenizer lacks ${names.join(' / ')}`);
  };
  const noTimestamps = need('<|notimestamps|>');
  const tokens: SpecialTokens = {
    sot: need('<|startoftranscript|>'),
    eot: need('<|endoftext|>'),
    sotPrev: need('<|startofprev|>'),
    transcribe: need('<|transcribe|>'),
    translate: need('<|translate|>'),
    noTimestamps,
    noSpeech: need('<|nospeech|>', '<|nocaptions|>'),
    // Older exports leave timestamp tokens out of added_tokens; in every Whisper vocabulary they
    // start right after <|notimestamps|>.
    timestampBegin: added.get('<|0.00|>') ?? noTimestamps + 1,
  };
  const langToId = new Map<string, number>();
  for (const [k, v] of Object.entries(gen.lang_to_id)) langToId.set(k.replace(/^<\|(.*)\|>$/, '$1'), v);

  return {
    name,
    encoder,
    decoder,
    tokenizer,
    tokens,
    langToId,
    suppressTokens: gen.suppress_tokens,
    beginSuppressTokens: gen.begin_suppress_tokens,
    maxInitialTimestampIndex: gen.max_initial_timestamp_index,
    maxLength: gen.max_length,
    alignmentHeads: gen.alignment_heads ?? [],
    layers: cfg.decoder_layers,
    heads: cfg.decoder_attention_heads,
    headDim: cfg.d_model / cfg.decoder_attention_heads,
    nMels: cfg.num_mel_bins,
    vocabSize: cfg.vocab_size,
  };
}
