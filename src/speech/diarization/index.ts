/**
 * Speaker diarization (who spoke when), after pyannote's pipeline: pyannote segmentation-3.0 on
 * sliding 10 s windows, a Resemblyzer GE2E embedding per window and local speaker, agglomerative
 * clustering with speaker-count bounds, and overlap-aware reconstruction of global turns.
 *
 *   const diarizer = await loadDiarizer(modelsDir);
 *   const s = diarizer.session();
 *   for await (const pcm of chunks) await s.push(pcm);   // 16 kHz mono Float32Array
 *   const turns = await s.finish({ speakerCountMin: -1, speakerCountMax: -1 });
 *   await diarizer.close();
 */
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
export const EMBEDDING_MODEL = join('speaker-resemblyzer', 'resemblyzer-ge2e.onnx');

export interface Diarizer {
  readonly tuning: DiarizerTuning;
  /** A new, independent stream; sessions share the process's inference worker. */
  session(): DiarizationSession;
  /** Releases this diarizer's hold on the worker (stopped when no diarizer uses it). */
  close(): Promise<void>;
}

/**
 * Loads both models into the shared inference worker (started on first use) and resolves once
 * they are ready. `tuning` overrides DEFAULT_TUNING field by field; unknown fields are rejected.
 */
export async function loadDiarizer(modelsDir: string, tuning: DiarizerTuningInput = {}): Promise<Diarizer> {
  const t = parseTuning(tuning);
  const { runner, release } = await acquireWorker({
    segmentationPath: join(modelsDir, SEGMENTATION_MODEL),
    embeddingPath: join(modelsDir, EMBEDDING_MODEL),
    threads: t.threads,
  });
  return diarizerOn(runner, t, release);
}

/** A diarizer over any ModelRunner (tests substitute fakes; tools reuse one runner). */
export function diarizerOn(runner: ModelRunner, tuning: DiarizerTuning, release: () => Promise<void> = async () => undefined): Diarizer {
  let closed = false;
  return {
    tuning,
    session: () => {
      if (closed) throw new Error('diarizer is closed');
      return new DiarizationSession(runner, tuning);
    },
    close: async () => {
      closed = true;
      await release();
    },
  };
}
