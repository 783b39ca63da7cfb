import type { AssessmentRequest, Transcript } from '../engine.js';
import type { WhisperOptions } from './transcriber.js';

/** Messages between the Whisper host (the server process) and an inference child process. */
export interface WorkerInit {
  modelDir: string;
  modelName: string;
  threads: number;
  /** The models folder (pronunciation assessment loads its own models from it on first use). */
  modelsDir: string;
  referenceCacheSize?: number;
  /** Requests per priority class decoded at once; above 1, their decoder steps run batched. */
  batch?: number;
  /** Where the model's weights are kept as data files beside rewritten graphs (onnx-external.ts); absent: loaded from memory. */
  modelCacheDir?: string;
}

export type ToWorker =
  /** `rank`: the index of the request's class in PRIORITIES (0 = most urgent), for the RunGate. */
  | { type: 'transcribe'; id: number; rank: number; pcm: Float32Array; opts: Omit<WhisperOptions, 'signal' | 'turn' | 'onWindow'>; assessment?: AssessmentRequest }
  | { type: 'abort'; id: number };

export type FromWorker =
  /** `warnings`: what the process had to do without (for the engine's log, not for clients). */
  | { type: 'ready'; version: string; warnings?: string[] }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; transcript: Transcript }
  | { type: 'error'; id: number; name: string; message: string };
