/**
 * YAMNet (AudioSet, 521 classes), w8a8-quantised ONNX: uint8 log-mel patches in, uint8 logits
 * out. Runs synchronously on the calling thread: only the event worker uses it directly.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { GuardedSession } from '../onnx-runs.js';
import { LogMel, MEL_BANDS, PATCH_FRAMES, quantisedPatches } from './frontend.js';
import { readScalarInitializers } from './onnx-constants.js';

export const YAMNET_DIR = 'yamnet-int8';
export const YAMNET_CLASSES = 521;
const MODEL_FILE = 'model.onnx';
const CLASS_MAP_FILE = 'yamnet_class_map.csv';

/**
 * The values the shared models README documents; used only when the graph does not carry its
 * own (a different export). The graph's own values win because they are what it was calibrated
 * with.
 */
const DOCUMENTED = {
  audio_scale: 0.04793788,
  audio_zero_point: 144,
  class_scores_scale: 0.75654173,
  class_scores_zero_point: 190,
} as const;

export interface Quantisation {
  inScale: number;
  inZeroPoint: number;
  outScale: number;
  outZeroPoint: number;
}

export function readQuantisation(modelPath: string): Quantisation {
  const names = Object.keys(DOCUMENTED) as (keyof typeof DOCUMENTED)[];
  const found = readScalarInitializers(modelPath, names);
  const get = (k: keyof typeof DOCUMENTED): number => found.get(k) ?? DOCUMENTED[k];
  return {
    inScale: get('audio_scale'),
    inZeroPoint: get('audio_zero_point'),
    outScale: get('class_scores_scale'),
    outZeroPoint: get('class_scores_zero_point'),
  };
}

/** Display names by class index, from the model's CSV (`index,mid,display_name`, quoted names). */
export function readClassNames(modelDir: string): string[] {
  const lines = readFileSync(join(modelDir, CLASS_MAP_FILE), 'utf8').split(/\r?\n/).slice(1).filter((l) => l.trim());
  const names: string[] = [];
  for (const line of lines) {
    const m = /^(\d+),([^,]*),(?:"((?:[^"]|"")*)"|(.*))$/.exec(line);
    if (!m) throw new Error(`unreadable line in ${CLASS_MAP_FILE}: ${line}`);
    names[Number(m[1])] = (m[3] ?? m[4] ?? '').replace(/""/g, '"');
  }
  if (names.length !== YAMNET_CLASSES) throw new Error(`${CLASS_MAP_FILE} lists ${names.length} classes, expected ${YAMNET_CLASSES}`);
  return names;
}

export class YamnetModel {
  private readonly logMel = new LogMel();
  private readonly session: GuardedSession;

  private constructor(
    session: ort.InferenceSession,
    readonly quant: Quantisation,
  ) {
    this.session = new GuardedSession(session);
  }

  static async load(modelDir: string, threads = 1): Promise<YamnetModel> {
    const path = join(modelDir, MODEL_FILE);
    const quant = readQuantisation(path);
    const session = await ort.InferenceSession.create(path, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
    return new YamnetModel(session, quant);
  }

  /**
   * Class probabilities of every whole patch in `pcm` (16 kHz; patch i starts at frame
   * i · hopFrames), row-major [patches, 521]. The graph takes one patch per run (its batch
   * dimension is fixed).
   */
  async classify(pcm: Float32Array, hopFrames: number): Promise<{ scores: Float32Array; patches: number }> {
    const { inScale, inZeroPoint, outScale, outZeroPoint } = this.quant;
    const { data, count } = quantisedPatches(this.logMel, pcm, hopFrames, inScale, inZeroPoint);
    const size = PATCH_FRAMES * MEL_BANDS;
    const scores = new Float32Array(count * YAMNET_CLASSES);
    for (let p = 0; p < count; p++) {
      const input = new ort.Tensor('uint8', data.subarray(p * size, (p + 1) * size), [1, 1, PATCH_FRAMES, MEL_BANDS]);
      const out = await this.session.run({ audio: input });
      const q = out.class_scores.data as Uint8Array;
      for (let c = 0; c < YAMNET_CLASSES; c++) {
        scores[p * YAMNET_CLASSES + c] = 1 / (1 + Math.exp(-(q[c] - outZeroPoint) * outScale));
      }
    }
    return { scores, patches: count };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
