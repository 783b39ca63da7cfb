/** Messages between the main thread and the diarization inference worker. */
import type { WindowResult } from './types.js';
import type { SpeakerBounds } from './clustering.js';
import type { PartialBatch } from './embedding.js';
import type { PipelineParams } from './pipeline.js';
import type { Turn } from './reconstruct.js';

export interface WorkerInit {
  segmentationPath: string;
  embeddingPath: string;
  /** onnxruntime intra-op threads per model run. */
  threads: number;
}

/** Everything the end of a session needs: clustering and reconstruction over its windows. */
export interface DiarizeJob {
  windows: WindowResult[];
  stepFrames: number;
  totalSamples: number;
  params: PipelineParams;
  bounds: SpeakerBounds;
}

export type ToWorker =
  /** One window of exactly WINDOW_SAMPLES samples. */
  | { type: 'segment'; id: number; pcm: Float32Array }
  /** One batch of partials per embedding wanted. */
  | { type: 'embed'; id: number; batches: PartialBatch[] }
  | { type: 'diarize'; id: number; job: DiarizeJob }
  /** Finish the work in flight, release the models, exit (speech/worker-stop.ts). */
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'init-error'; message: string }
  /** FRAMES_PER_WINDOW x 7 log-probabilities, row-major. */
  | { type: 'segmented'; id: number; logProbs: Float32Array }
  /** Per batch, in order: each partial's embedding, rows of one array (count x dim). */
  | { type: 'embedded'; id: number; embeddings: Float32Array[] }
  | { type: 'diarized'; id: number; turns: Turn[] }
  | { type: 'error'; id: number; message: string };

/** The compute a session needs, off the caller's thread; tests and tools can substitute their own. */
export interface ModelRunner {
  /** Log-probabilities (FRAMES_PER_WINDOW x 7) of one WINDOW_SAMPLES-long window. */
  segment(pcm: Float32Array): Promise<Float32Array>;
  /** Per batch of partials, each partial's embedding (not normalised), rows of one array. */
  embed(batches: PartialBatch[]): Promise<Float32Array[]>;
  /** Clustering and reconstruction at the end of a session. */
  diarize(job: DiarizeJob): Promise<Turn[]>;
}
