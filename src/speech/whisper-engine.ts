import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpus } from 'node:os';
import {
  EngineFailedError, type EngineConfig, type SpeechEngine, type Transcript, type TranscribeOptions,
} from './engine.js';
import { PriorityScheduler } from './scheduler.js';
import { resolveModelDir, UnknownModelError } from './models.js';
import { ENCODER_FILE, DECODER_FILE } from './whisper/model.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

/** Raised to callers whose request was cancelled through their AbortSignal. */
export class TranscriptionAbortedError extends Error {
  constructor() {
    super('transcription aborted');
    this.name = 'TranscriptionAbortedError';
  }
}

interface Pending {
  resolve: (t: Transcript) => void;
  reject: (e: Error) => void;
}

class WorkerSlot {
  readonly worker: Worker;
  readonly ready: Promise<string>;
  private readonly pending = new Map<number, Pending>();

  constructor(init: WorkerInit) {
    this.worker = spawnWorker(init);
    this.ready = new Promise((res, rej) => {
      this.worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') res(m.version);
        else if (m.type === 'init-error') rej(new Error(m.message));
        else if (m.type === 'result') this.settle(m.id)?.resolve(m.transcript);
        else if (m.type === 'error') {
          const p = this.settle(m.id);
          if (p) p.reject(m.name === 'AbortedError' ? new TranscriptionAbortedError() : new EngineFailedError(m.message));
        }
      });
      this.worker.on('error', (err) => {
        rej(err);
        this.failAll(new EngineFailedError(`inference worker crashed: ${err.message}`, { cause: err }));
      });
      this.worker.on('exit', (code) => {
        rej(new Error(`inference worker exited (${code}) before it was ready`));
        this.failAll(new EngineFailedError(`inference worker exited with code ${code}`));
      });
    });
    // Avoid an unhandled rejection when nobody awaits readiness before a failure.
    this.ready.catch(() => undefined);
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    return p;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  run(id: number, pcm: Float32Array, opts: TranscribeOptions, beamSize: number): Promise<Transcript> {
    return new Promise((res, rej) => {
      this.pending.set(id, { resolve: res, reject: rej });
      const onAbort = (): void => this.worker.postMessage({ type: 'abort', id } satisfies ToWorker);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const copy = pcm.slice(); // ours to transfer: the caller keeps its buffer
      const msg: ToWorker = {
        type: 'transcribe', id, pcm: copy,
        opts: {
          language: opts.language, prompt: opts.prompt, beamSize: opts.beamSize ?? beamSize,
          wordTimestamps: opts.wordTimestamps ?? false, temperatureFallback: opts.temperatureFallback ?? true,
        },
      };
      this.worker.postMessage(msg, [copy.buffer]);
      const cleanup = (): void => opts.signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        resolve: (t) => { cleanup(); res(t); },
        reject: (e) => { cleanup(); rej(e); },
      });
    });
  }
}

/**
 * Built, the worker is plain .js. Under tsx (tests, `npm run eval`) it is .ts, and worker threads
 * do not inherit tsx's loader hooks, so the worker registers them itself before importing.
 */
function spawnWorker(init: WorkerInit): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./whisper-worker.js', self), { workerData: init });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./whisper-worker.ts', self).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: init });
}

/** Whisper on onnxruntime-node, inference in worker threads behind a priority scheduler. */
export class WhisperEngine implements SpeechEngine {
  version = '';
  private readonly slots: WorkerSlot[];
  private readonly scheduler: PriorityScheduler;
  private readonly readyPromise: Promise<void>;
  private nextId = 1;
  private readonly beamSize: number;

  constructor(cfg: EngineConfig) {
    const dir = whisperModelDir(cfg.modelsDir, cfg.model);
    const parallel = Math.max(1, cfg.parallel);
    const threadsEach = Math.max(1, Math.floor(Math.max(1, cfg.threads || cpus().length) / parallel));
    this.beamSize = cfg.beamSize;
    this.slots = Array.from({ length: parallel }, () => new WorkerSlot({ modelDir: dir, modelName: cfg.model, threads: threadsEach }));
    this.scheduler = new PriorityScheduler(parallel, cfg.queueLimit);
    this.readyPromise = Promise.all(this.slots.map((s) => s.ready)).then((v) => { this.version = v[0]; });
    this.readyPromise.catch(() => undefined);
  }

  ready(): Promise<void> {
    return this.readyPromise;
  }

  async transcribe(pcm: Float32Array, opts: TranscribeOptions): Promise<Transcript> {
    await this.readyPromise;
    const id = this.nextId++;
    return this.scheduler.run(
      opts.priority ?? 'short',
      (slot) => {
        if (opts.signal?.aborted) return Promise.reject(new TranscriptionAbortedError());
        return this.slots[slot].run(id, pcm, opts, this.beamSize);
      },
      opts.signal,
    );
  }

  load(): { queued: number; running: number; capacity: number } {
    return { queued: this.scheduler.queued, running: this.scheduler.running, capacity: this.scheduler.slots };
  }

  async close(): Promise<void> {
    this.scheduler.drain(new EngineFailedError('engine closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/**
 * Registered names get the registry's helpful "not installed" message; any other folder in the
 * same layout (a user's own export) loads too.
 */
function whisperModelDir(modelsDir: string, name: string): string {
  const custom = resolve(modelsDir, name);
  if (existsSync(join(custom, ENCODER_FILE)) && existsSync(join(custom, DECODER_FILE))) return custom;
  try {
    return resolveModelDir(modelsDir, name);
  } catch (err) {
    if (err instanceof UnknownModelError) {
      throw new Error(`Model "${name}" not found in ${resolve(modelsDir)}: expected ${ENCODER_FILE} and ${DECODER_FILE} there (${err.message}).`);
    }
    throw err;
  }
}
