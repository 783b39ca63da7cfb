/** Messages between the event detector (main thread) and its worker thread. */
import { z } from 'zod';

export const workerInitSchema = z.object({
  modelDir: z.string().min(1),
  threads: z.number().int().min(1).max(64),
});
export type EventWorkerInit = z.infer<typeof workerInitSchema>;

export const toWorkerSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('classify'),
    id: z.number().int().nonnegative(),
    /** 16 kHz mono samples covering whole patches (patch i starts at sample i · hopFrames · 160). */
    pcm: z.instanceof(Float32Array),
    hopFrames: z.number().int().min(1).max(96),
  }),
  /** Finish the run in flight, release the model, exit (speech/worker-stop.ts). */
  z.object({ type: z.literal('close') }),
]);
export type ToEventWorker = z.infer<typeof toWorkerSchema>;

export type FromEventWorker =
  | { type: 'ready'; version: string; classNames: string[] }
  | { type: 'init-error'; message: string }
  /** Row-major [patches, 521] class probabilities. */
  | { type: 'scores'; id: number; patches: number; scores: Float32Array }
  | { type: 'error'; id: number; message: string };
