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
  /** Windows of one recording a request may carry; above 1, their searches run in lockstep. */
  windowBatch?: number;
  /** Where the model's weights are kept as data files beside rewritten graphs (onnx-external.ts); absent: loaded from memory. */
  modelCacheDir?: string;
}

export type ToWorker =
  /** `rank`: the index of the request's class in PRIORITIES (0 = most urgent), for the RunGate. */
  /**
   * `pcms`: one piece of audio, or several windows of one long recording decoded together
   * (WhisperTranscriber.transcribeMany); the result has one transcript per piece, in order.
   */
  | { type: 'transcribe'; id: number; rank: number; pcms: Float32Array[]; opts: Omit<WhisperOptions, 'signal' | 'turn' | 'onWindow' | 'searchRunner'>; assessment?: AssessmentRequest }
  | { type: 'abort'; id: number };

export type FromWorker =
  /** `warnings`: what the process had to do without (for the engine's log, not for clients). */
  | { type: 'ready'; version: string; warnings?: string[] }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; transcripts: Transcript[] }
  | { type: 'error'; id: number; name: string; message: string };
