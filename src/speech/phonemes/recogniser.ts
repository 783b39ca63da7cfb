import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { GuardedSession } from '../onnx-runs.js';
import { SAMPLE_RATE } from '../../audio.js';

/**
 * hama's English phoneme recogniser (PyPI `hama==1.3.13`, `asr_waveform_fp16.onnx`): raw 16 kHz
 * waveform in, CTC log-probabilities over IPA phoneme tokens out, one frame per 20 ms.
 *
 * Its token inventory is the G2P's decoder vocabulary (`g2p_vocab.json`, `decoder`: 189 entries,
 * specials such as `<pad>`, `<sos>`, `<eos>`, `<unk>`, ` ` among them) followed by two tokens the
 * file does not list: the word boundary `<wb>` (index 189) and the CTC blank `<blank>` (index 190),
 * as hama's `asr.py` builds it.
 *
 * Inference runs on onnxruntime's own threads but `run` is awaited from the calling thread; in the
 * server this will run in the inference process (like Whisper), never on the HTTP event loop.
 */
export const PHONEME_MODEL_DIR = 'phoneme-hama-1.3.13';
export const PHONEME_FRAME_SECONDS = 0.02;
export const WORD_BOUNDARY_TOKEN = '<wb>';
export const BLANK_TOKEN = '<blank>';
/** hama's greedy decoder shifts the blank's log-probability by this before the argmax. */
export const HAMA_BLANK_BIAS = -0.1;
/** Shorter input is zero-padded to this many samples (the convolutional front end needs some). */
const MIN_SAMPLES = SAMPLE_RATE / 10;

export interface PhonemeLogProbs {
  /** `frameCount` x `vocab.length` natural-log posteriors, row-major. */
  frames: Float32Array;
  frameCount: number;
  vocab: string[];
  blank: number;
}

export interface PhonemeRecogniser {
  readonly vocab: string[];
  readonly blank: number;
  readonly wordBoundary: number;
  /** Token ids that are not phonemes (blank, word boundary, `<pad>` and the other specials, punctuation). */
  readonly nonPhonemes: number[];
  logProbs(pcm16k: Float32Array): Promise<PhonemeLogProbs>;
  close(): Promise<void>;
}

export interface PhonemeRecogniserOptions {
  /** onnxruntime intra-op threads (default 1). */
  threads?: number;
}

/** Tokens of the decoder vocabulary that are not phonemes. */
const NON_PHONEME = /^(<.*>| |[%,~]|[\p{Script=Han}]|꜔)$/u;

export async function loadPhonemeRecogniser(modelsDir: string, { threads = 1 }: PhonemeRecogniserOptions = {}): Promise<PhonemeRecogniser> {
  const dir = join(modelsDir, PHONEME_MODEL_DIR);
  const parsed = JSON.parse(await readFile(join(dir, 'g2p_vocab.json'), 'utf8')) as { decoder?: unknown };
  if (!Array.isArray(parsed.decoder) || !parsed.decoder.every((t): t is string => typeof t === 'string')) {
    throw new Error(`${dir}/g2p_vocab.json has no "decoder" token list`);
  }
  const vocab = [...parsed.decoder, WORD_BOUNDARY_TOKEN, BLANK_TOKEN];
  const blank = vocab.length - 1;
  const wordBoundary = vocab.length - 2;
  const nonPhonemes = vocab.flatMap((t, i) => (NON_PHONEME.test(t) ? [i] : []));
  const raw = await ort.InferenceSession.create(join(dir, 'asr_waveform_fp16.onnx'), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    // No arena: an arena keeps the largest clip's activations resident for good (assessment is occasional).
    enableCpuMemArena: false,
  });
  for (const name of ['waveform', 'waveform_lengths']) {
    if (!raw.inputNames.includes(name)) throw new Error(`phoneme model has no input "${name}" (inputs: ${raw.inputNames.join(', ')})`);
  }
  const session = new GuardedSession(raw);

  return {
    vocab,
    blank,
    wordBoundary,
    nonPhonemes,
    async logProbs(pcm16k) {
      let pcm = pcm16k;
      if (pcm.length < MIN_SAMPLES) {
        pcm = new Float32Array(MIN_SAMPLES);
        pcm.set(pcm16k);
      }
      const out = await session.run({
        waveform: new ort.Tensor('float32', pcm, [1, pcm.length]),
        waveform_lengths: new ort.Tensor('int64', BigInt64Array.of(BigInt(pcm.length)), [1]),
      });
      const lp = out.log_probs;
      const lengths = out.out_lengths;
      if (lp === undefined || lengths === undefined) throw new Error('phoneme model did not return log_probs and out_lengths');
      const [, T, V] = lp.dims;
      if (V !== vocab.length) throw new Error(`phoneme model writes ${V} tokens, vocabulary has ${vocab.length}`);
      const valid = Math.max(0, Math.min(T ?? 0, Number((lengths.data as BigInt64Array)[0])));
      const data = lp.data as Float32Array;
      const frames = data.slice(0, valid * V);
      lp.dispose();
      lengths.dispose();
      return { frames, frameCount: valid, vocab, blank };
    },
    async close() {
      await session.release();
    },
  };
}

/** Token ids of IPA phonemes as the recogniser spells them; throws on one it does not know. */
export function phonemeIds(vocab: readonly string[], phonemes: readonly string[]): number[] {
  return phonemes.map((p) => {
    const id = vocab.indexOf(p);
    if (id < 0) throw new RangeError(`phoneme "${p}" is not in the recogniser's vocabulary`);
    return id;
  });
}
