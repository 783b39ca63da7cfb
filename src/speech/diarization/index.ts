/**
 * Speaker diarization (who spoke when), after pyannote's pipeline: pyannote segmentation-3.0 on
 * sliding 10 s windows, a speaker embedding per window and local speaker (CAM++ when the models
 * folder has it, else Resemblyzer's GE2E), agglomerative clustering with speaker-count bounds,
 * and overlap-aware reconstruction of global turns.
 *
 *   const diarizer = await loadDiarizer(modelsDir);
 *   const s = diarizer.session();
 *   for await (const pcm of chunks) await s.push(pcm);   // 16 kHz mono Float32Array
 *   const turns = await s.finish({ speakerCountMin: -1, speakerCountMax: -1 });
 *   await diarizer.close();
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { acquireWorker } from './inference.js';
import type { ModelRunner } from './protocol.js';
import { parseTuning, type DiarizerTuning, type DiarizerTuningInput } from './options.js';
import { DiarizationSession } from './session.js';

export { DiarizationSession } from './session.js';
export { DiarizationWorkerError } from './inference.js';
export type { DiarizeJob, ModelRunner } from './protocol.js';
export { DEFAULT_TUNING, MAX_SPEAKERS, type DiarizerTuning, type DiarizerTuningInput, type FinishOptions } from './options.js';
export type { Turn } from './reconstruct.js';

export const SEGMENTATION_MODEL = join('segmentation-pyannote-3.0', 'model.onnx');

/**
 * Speaker encoders, best first, each with the clustering settings tuned for it (its distances
 * spread differently). CAM++ (scripts/models/speaker-campplus.sh) halves GE2E's equal-error
 * rate on far-field meeting speech; tuned on the tuning half of the labelled recordings
 * (bench/diarization.ts --half tuning), with windows every 3 s instead of 2 to keep diarization
 * within a quarter of a long-form job's time, and embeddings only from speech without overlap;
 * see docs/decisions.md#speaker-diarization-tuning.
 */
export const SPEAKER_MODELS = [
  { name: 'speaker-campplus', file: join('speaker-campplus', 'campplus.onnx'), tuning: { threshold: 0.45, minClusterSize: 3, stepSeconds: 3, overlapFallback: false, splitThreshold: 0.7, embedEvery: 3 } },
  { name: 'speaker-resemblyzer', file: join('speaker-resemblyzer', 'resemblyzer-ge2e.onnx'), tuning: {} },
] as const satisfies readonly { name: string; file: string; tuning: DiarizerTuningInput }[];

export type SpeakerModelName = (typeof SPEAKER_MODELS)[number]['name'];

/** The speaker encoder to use: `prefer` when given, else the best one the folder holds (GE2E when none). */
export function speakerModel(modelsDir: string, prefer?: SpeakerModelName): (typeof SPEAKER_MODELS)[number] {
  if (prefer !== undefined) return SPEAKER_MODELS.find((m) => m.name === prefer) as (typeof SPEAKER_MODELS)[number];
  return SPEAKER_MODELS.find((m) => existsSync(join(modelsDir, m.file))) ?? SPEAKER_MODELS[SPEAKER_MODELS.length - 1];
}

export interface Diarizer {
  readonly tuning: DiarizerTuning;
  /**
   * A new, independent stream; sessions share the process's inference worker. A caller that
   * will ask finish() for at least `speakerCountMin` speakers (above 1) says so here: those
   * sessions embed windows as often as `forcedEmbedEvery` says (see DiarizerTuning).
   */
  session(opts?: { speakerCountMin?: number }): DiarizationSession;
  /** Releases this diarizer's hold on the worker (stopped when no diarizer uses it). */
  close(): Promise<void>;
}

/**
 * Loads both models into the shared inference worker (started on first use) and resolves once
 * they are ready. `tuning` overrides the speaker model's settings, then DEFAULT_TUNING, field by
 * field; unknown fields are rejected.
 */
export async function loadDiarizer(modelsDir: string, tuning: DiarizerTuningInput = {}, prefer?: SpeakerModelName): Promise<Diarizer & { speakerModel: SpeakerModelName }> {
  const model = speakerModel(modelsDir, prefer);
  const t = parseTuning({ ...model.tuning, ...tuning });
  const { runner, release } = await acquireWorker({
    segmentationPath: join(modelsDir, SEGMENTATION_MODEL),
    embeddingPath: join(modelsDir, model.file),
    threads: t.threads,
  });
  return { ...diarizerOn(runner, t, release), speakerModel: model.name };
}

/** A diarizer over any ModelRunner (tests substitute fakes; tools reuse one runner). */
export function diarizerOn(runner: ModelRunner, tuning: DiarizerTuning, release: () => Promise<void> = async () => undefined): Diarizer {
  let closed = false;
  return {
    tuning,
    session: (opts = {}) => {
      if (closed) throw new Error('diarizer is closed');
      const forced = (opts.speakerCountMin ?? -1) > 1;
      return new DiarizationSession(runner, forced ? { ...tuning, embedEvery: Math.min(tuning.embedEvery, tuning.forcedEmbedEvery) } : tuning);
    },
    close: async () => {
      closed = true;
      await release();
    },
  };
}
