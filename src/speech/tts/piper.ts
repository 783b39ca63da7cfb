import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { GuardedSession } from '../onnx-runs.js';
import { SAMPLE_RATE } from '../../audio.js';
import { resample } from '../../media/resample.js';
import { phonemize } from './phonemize.js';

/**
 * A Piper voice (VITS exported to ONNX; `tts-piper-en-joe/en_US-joe-medium.onnx` in the models
 * folder): phoneme ids in, a 22,050 Hz waveform out. Used to make the standard pronunciation
 * behind `ref_graph` (issue 16).
 *
 * Ids follow Piper's conventions (piper-phonemize `phonemes_to_ids`): the sentence's IPA is
 * NFD-normalised and split into code points; each maps through `phoneme_id_map`; the sequence is
 * BOS `^`, pad `_`, then every phoneme followed by a pad, then EOS `$`. Code points the voice has
 * no id for are dropped (Piper counts them as missing and goes on). Each sentence is synthesised
 * on its own and the waveforms are concatenated, as Piper does.
 *
 * The ONNX inputs are `input` [1, N] int64, `input_lengths` [1] int64 and `scales` [3] float32
 * (noise scale, length scale, noise width, from the `.onnx.json`'s `inference`); the output is
 * [1, 1, 1, samples] float32.
 */
export const PIPER_VOICE_DIR = 'tts-piper-en-joe';
const PAD = '_';
const BOS = '^';
const EOS = '$';

export interface PiperVoiceConfig {
  sampleRate: number;
  espeakVoice: string;
  noiseScale: number;
  lengthScale: number;
  noiseW: number;
  phonemeIdMap: Map<string, number[]>;
}

export interface Synthesis {
  /** Mono float32 PCM at 16 kHz (`SAMPLE_RATE`). */
  pcm: Float32Array;
  /** The same at the voice's own rate. */
  voicePcm: Float32Array;
  voiceSampleRate: number;
  /** The IPA of each sentence, as synthesised. */
  ipa: string[];
}

export interface PiperVoice {
  readonly config: PiperVoiceConfig;
  /**
   * `deterministic`: no sampling noise (noise scale and noise width 0), so the same text always
   * gives the same waveform; the voice sounds a little flatter.
   */
  synthesize(text: string, opts?: { signal?: AbortSignal; deterministic?: boolean }): Promise<Synthesis>;
  /** One sentence from its IPA (espeak-ng's spelling), at the voice's own rate; for rendering chosen phonemes. */
  synthesizeIpa(ipa: string, opts?: { deterministic?: boolean }): Promise<Float32Array>;
  close(): Promise<void>;
}

export interface PiperVoiceOptions {
  /** onnxruntime intra-op threads (default 1). */
  threads?: number;
}

function num(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/** The parts of a Piper `.onnx.json` Sori uses. */
export function parseVoiceConfig(json: unknown, where = 'voice config'): PiperVoiceConfig {
  const c = (json ?? {}) as {
    audio?: { sample_rate?: unknown };
    espeak?: { voice?: unknown };
    phoneme_type?: unknown;
    inference?: { noise_scale?: unknown; length_scale?: unknown; noise_w?: unknown };
    phoneme_id_map?: unknown;
  };
  if (c.phoneme_type !== undefined && c.phoneme_type !== 'espeak') {
    throw new Error(`${where}: phoneme_type ${JSON.stringify(c.phoneme_type)} is not supported (only "espeak")`);
  }
  const sampleRate = c.audio?.sample_rate;
  if (typeof sampleRate !== 'number' || !(sampleRate > 0)) throw new Error(`${where}: no audio.sample_rate`);
  const rawMap = c.phoneme_id_map;
  if (typeof rawMap !== 'object' || rawMap === null) throw new Error(`${where}: no phoneme_id_map`);
  const phonemeIdMap = new Map<string, number[]>();
  for (const [phoneme, ids] of Object.entries(rawMap)) {
    if (!Array.isArray(ids) || !ids.every((id): id is number => Number.isInteger(id))) {
      throw new Error(`${where}: phoneme_id_map[${JSON.stringify(phoneme)}] is not a list of integers`);
    }
    phonemeIdMap.set(phoneme, ids);
  }
  for (const special of [PAD, BOS, EOS]) {
    if (!phonemeIdMap.has(special)) throw new Error(`${where}: phoneme_id_map has no ${JSON.stringify(special)}`);
  }
  return {
    sampleRate,
    espeakVoice: typeof c.espeak?.voice === 'string' ? c.espeak.voice : 'en-us',
    noiseScale: num(c.inference?.noise_scale, 0.667),
    lengthScale: num(c.inference?.length_scale, 1),
    noiseW: num(c.inference?.noise_w, 0.8),
    phonemeIdMap,
  };
}

/** Piper's phoneme ids for one sentence's IPA: `^ _ p1 _ p2 _ ... pn _ $`. */
export function phonemeIds(ipa: string, phonemeIdMap: ReadonlyMap<string, readonly number[]>): number[] {
  const pad = phonemeIdMap.get(PAD) ?? [];
  const ids = [...(phonemeIdMap.get(BOS) ?? []), ...pad];
  for (const phoneme of ipa.normalize('NFD')) {
    const mapped = phonemeIdMap.get(phoneme);
    if (!mapped) continue;
    ids.push(...mapped, ...pad);
  }
  ids.push(...(phonemeIdMap.get(EOS) ?? []));
  return ids;
}

export async function loadPiperVoice(modelsDir: string, { threads = 1 }: PiperVoiceOptions = {}): Promise<PiperVoice> {
  const dir = join(modelsDir, PIPER_VOICE_DIR);
  const jsonName = (await readdir(dir)).filter((name) => name.endsWith('.onnx.json')).sort()[0];
  if (!jsonName) throw new Error(`${dir} holds no Piper voice (*.onnx.json)`);
  const config = parseVoiceConfig(JSON.parse(await readFile(join(dir, jsonName), 'utf8')), join(dir, jsonName));
  const raw = await ort.InferenceSession.create(join(dir, jsonName.slice(0, -'.json'.length)), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    // No arena: synthesis is occasional, and an arena would keep the longest sentence's activations resident.
    enableCpuMemArena: false,
  });
  for (const name of ['input', 'input_lengths', 'scales']) {
    if (!raw.inputNames.includes(name)) throw new Error(`Piper voice has no input "${name}" (inputs: ${raw.inputNames.join(', ')})`);
  }
  const session = new GuardedSession(raw);
  const scales = new ort.Tensor('float32', Float32Array.from([config.noiseScale, config.lengthScale, config.noiseW]), [3]);
  const noiseless = new ort.Tensor('float32', Float32Array.from([0, config.lengthScale, 0]), [3]);

  async function synthesizeIds(ids: number[], deterministic: boolean): Promise<Float32Array> {
    const input = new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
    const inputLengths = new ort.Tensor('int64', BigInt64Array.from([BigInt(ids.length)]), [1]);
    const outputs = await session.run({ input, input_lengths: inputLengths, scales: deterministic ? noiseless : scales });
    const output = outputs[raw.outputNames[0]];
    return Float32Array.from(output.data as Float32Array);
  }

  return {
    config,
    synthesizeIpa(ipa, { deterministic = false } = {}) {
      return synthesizeIds(phonemeIds(ipa, config.phonemeIdMap), deterministic);
    },
    async synthesize(text, { signal, deterministic = false } = {}) {
      const sentences = await phonemize(text, { voice: config.espeakVoice, signal });
      const parts: Float32Array[] = [];
      for (const { ipa } of sentences) {
        signal?.throwIfAborted();
        parts.push(await synthesizeIds(phonemeIds(ipa, config.phonemeIdMap), deterministic));
      }
      const voicePcm = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let offset = 0;
      for (const part of parts) {
        voicePcm.set(part, offset);
        offset += part.length;
      }
      return {
        pcm: resample(voicePcm, config.sampleRate, SAMPLE_RATE),
        voicePcm,
        voiceSampleRate: config.sampleRate,
        ipa: sentences.map((s) => s.ipa),
      };
    },
    async close() {
      await session.release();
    },
  };
}
