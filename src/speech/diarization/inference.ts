/**
 * Main-thread side of the diarization inference worker: one worker thread per process and model
 * set, shared by every diarizer (reference-counted), typed request/response over postMessage.
 */
import { Worker } from 'node:worker_threads';
import type { PartialBatch } from './embedding.js';
import type { DiarizeJob, FromWorker, ModelRunner, ToWorker, WorkerInit } from './protocol.js';
import type { Turn } from './reconstruct.js';
import { PendingCalls } from '../worker-rpc.js';
import { stopWorker } from '../worker-stop.js';

export class DiarizationWorkerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiarizationWorkerError';
  }
}

/**
 * The worker entry next to this file: `worker.js` after `tsc`; under tsx (tests, bench) it is
 * `worker.ts`, which a worker thread cannot load by itself: on Node 20, `--import tsx` in a
 * Worker's execArgv does not reach the worker's entry module, so a two-line bootstrap imports the
 * entry through tsx's API instead. Absolute URLs: the working directory does not matter.
 */
function spawn(init: WorkerInit): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./worker.js', self), { workerData: init });
  const entry = new URL('./worker.ts', self).href;
  const api = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(self)}))`;
  return new Worker(bootstrap, { eval: true, workerData: init });
}

class InferenceWorker implements ModelRunner {
  private readonly worker: Worker;
  private readonly calls = new PendingCalls<FromWorker>({
    onBusy: () => this.worker.ref(),
    onIdle: () => this.worker.unref(),
  });
  private failure: Error | undefined;
  readonly ready: Promise<void>;
  refs = 0;

  constructor(init: WorkerInit, private readonly onGone: () => void) {
    this.worker = spawn(init);
    // Idle, the worker must not keep the process alive; busy, it must (see `calls`).
    this.worker.unref();
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'init-error') {
          reject(new DiarizationWorkerError(`diarization models failed to load: ${m.message}`));
          void this.worker.terminate();
        } else this.settle(m);
      });
      this.worker.on('error', (err) => this.fail(err, reject));
      this.worker.on('exit', (code) => this.fail(new DiarizationWorkerError(`diarization worker exited (code ${code})`), reject));
    });
    this.ready.catch(() => undefined);
  }

  segment(pcm: Float32Array): Promise<Float32Array> {
    // The window is copied on send (not transferred): the caller keeps reusing its buffer.
    return this.call((id) => ({ type: 'segment', id, pcm }), []).then((m) => {
      if (m.type !== 'segmented') throw new DiarizationWorkerError(`unexpected reply ${m.type}`);
      return m.logProbs;
    });
  }

  embed(batches: PartialBatch[]): Promise<Float32Array[]> {
    if (batches.length === 0) return Promise.resolve([]);
    return this.call((id) => ({ type: 'embed', id, batches }), batches.map((b) => b.data.buffer as ArrayBuffer)).then((m) => {
      if (m.type !== 'embedded') throw new DiarizationWorkerError(`unexpected reply ${m.type}`);
      return m.embeddings;
    });
  }

  diarize(job: DiarizeJob): Promise<Turn[]> {
    return this.call((id) => ({ type: 'diarize', id, job }), []).then((m) => {
      if (m.type !== 'diarized') throw new DiarizationWorkerError(`unexpected reply ${m.type}`);
      return m.turns;
    });
  }

  /** Lets the run in flight end first: see speech/worker-stop.ts. */
  async terminate(): Promise<void> {
    const close: ToWorker = { type: 'close' };
    await stopWorker(this.worker, close);
  }

  private async call(make: (id: number) => ToWorker, transfer: ArrayBuffer[]): Promise<FromWorker> {
    await this.ready;
    if (this.failure) throw this.failure;
    const { id, reply } = this.calls.open();
    this.worker.postMessage(make(id), transfer);
    return reply;
  }

  private settle(m: FromWorker): void {
    if (!('id' in m)) return;
    if (m.type === 'error') this.calls.reject(m.id, new DiarizationWorkerError(m.message));
    else this.calls.resolve(m.id, m);
  }

  private fail(err: Error, rejectReady: (e: Error) => void): void {
    if (this.failure) return;
    this.failure = err instanceof DiarizationWorkerError ? err : new DiarizationWorkerError(err.message);
    rejectReady(this.failure);
    this.calls.rejectAll(this.failure);
    this.onGone();
  }
}

const shared = new Map<string, InferenceWorker>();

/**
 * The process's worker for these models, started on first use. A worker that died (native crash)
 * is dropped from the table, so the next caller gets a fresh one.
 */
export async function acquireWorker(init: WorkerInit): Promise<{ runner: ModelRunner; release: () => Promise<void> }> {
  const key = JSON.stringify(init);
  let w = shared.get(key);
  if (!w) {
    const created: InferenceWorker = new InferenceWorker(init, () => {
      if (shared.get(key) === created) shared.delete(key);
    });
    w = created;
    shared.set(key, w);
  }
  const worker = w;
  worker.refs++;
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    worker.refs--;
    if (worker.refs === 0) {
      if (shared.get(key) === worker) shared.delete(key);
      await worker.terminate();
    }
  };
  try {
    await worker.ready;
  } catch (err) {
    await release();
    throw err;
  }
  return { runner: worker, release };
}
