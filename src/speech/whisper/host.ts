/**
 * The Whisper engine as the server sees it (the SpeechEngine adapter): inference child processes
 * (worker.ts) behind a bounded priority queue (scheduler.ts), talked to over worker-rpc.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpus } from 'node:os';
import {
  AssessmentUnavailableError, EngineFailedError, InferenceProcessExitedError, PRIORITIES, UnsupportedLanguageError, type EngineConfig, type SpeechEngine, type Transcript, type TranscribeOptions,
} from '../engine.js';
import { PriorityScheduler } from './scheduler.js';
import { resolveModelDir, UnknownModelError } from '../models/registry.js';
import { ENCODER_FILE, DECODER_FILE } from './model.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { INFERENCE_NICE, lowerPriority } from '../../process-priority.js';
import { PendingCalls } from '../worker-rpc.js';

/** Raised to callers whose request was cancelled through their AbortSignal. */
export class TranscriptionAbortedError extends Error {
  constructor() {
    super('transcription aborted');
    this.name = 'TranscriptionAbortedError';
  }
}

/**
 * One inference process. If it dies (native crash, OOM kill), the requests it held fail with
 * EngineFailedError and a fresh process is started for the next ones.
 */
class WorkerSlot {
  private child!: ChildProcess;
  private readyNow!: Promise<string>;
  /** Requests in flight; they outlive a restart only to be failed by the exit that caused it. */
  private readonly calls = new PendingCalls<Transcript[]>();
  private closing = false;
  private restarts = 0;

  constructor(private readonly init: WorkerInit, private readonly onLog: (msg: string) => void) {
    this.start();
  }

  get ready(): Promise<string> {
    return this.readyNow;
  }

  private start(): void {
    const child = spawnWorker(this.init);
    this.child = child;
    lowerPriority(child.pid, INFERENCE_NICE);
    this.readyNow = new Promise((res, rej) => {
      child.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          this.restarts = 0;
          for (const w of m.warnings ?? []) this.onLog(w);
          res(m.version);
        }
        else if (m.type === 'init-error') rej(new Error(m.message));
        else if (m.type === 'result') this.calls.resolve(m.id, m.transcripts);
        else if (m.type === 'error') {
          this.calls.reject(m.id, workerError(m.name, m.message));
        }
      });
      child.on('error', (err) => rej(err));
      child.on('exit', (code, signal) => {
        const why = signal ? `signal ${signal}` : `code ${code}`;
        rej(new Error(`inference process exited (${why}) before it was ready`));
        this.calls.rejectAll(new InferenceProcessExitedError(`inference process exited (${why})`));
        if (this.closing) return;
        // A process that keeps dying before it is ready (a broken model) is not restarted forever:
        // three times in a row at most; reaching ready resets the count.
        if (this.restarts < 3) {
          this.restarts++;
          this.onLog(`inference process exited (${why}); restarting`);
          this.start();
        }
      });
    });
    this.readyNow.catch(() => undefined);
  }

  /** One transcript per piece of audio in `pcms` (several: windows of one recording, see protocol.ts). */
  async run(pcms: Float32Array[], opts: TranscribeOptions, beamSize: number): Promise<Transcript[]> {
    try {
      await this.readyNow;
    } catch (err) {
      throw new EngineFailedError(`the model could not be loaded: ${(err as Error).message}`);
    }
    const child = this.child;
    // Aborting asks the process to stop; the request settles with the process's reply.
    const { id, reply } = this.calls.open({
      signal: opts.signal,
      onAbort: (id) => { if (child.connected) child.send({ type: 'abort', id } satisfies ToWorker); },
    });
    const msg: ToWorker = {
      type: 'transcribe', id, pcms, rank: PRIORITIES.indexOf(opts.priority ?? 'short'),
      opts: {
        language: opts.language, task: opts.task, prompt: opts.prompt, boost: opts.boost, beamSize: opts.beamSize ?? beamSize,
        wordTimestamps: opts.wordTimestamps ?? false, temperatureFallback: opts.temperatureFallback ?? true,
        temperature: opts.temperature, segmentTimestamps: opts.segmentTimestamps,
        shortContext: opts.shortContext ?? false, draft: opts.draft,
      },
      assessment: opts.assessment,
    };
    child.send(msg, (err) => {
      if (err) this.calls.reject(id, new EngineFailedError(`could not reach the inference process: ${err.message}`));
    });
    return reply;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.calls.rejectAll(new EngineFailedError('engine closed'));
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

/** An error the inference process reported, as the engine's callers know it. */
function workerError(name: string, message: string): Error {
  // AbortError: the DOM name, from an aborted child process (espeak-ng) or throwIfAborted.
  if (name === 'AbortedError' || name === 'AbortError') return new TranscriptionAbortedError();
  if (name === 'AssessmentUnavailableError') return new AssessmentUnavailableError(message);
  if (name === 'UnsupportedLanguageError') return new UnsupportedLanguageError(message);
  return new EngineFailedError(message);
}

/**
 * Built, the worker is plain .js. Under tsx (tests, `npm run eval`) it is .ts and needs tsx's
 * loader in the child too.
 */
function spawnWorker(init: WorkerInit): ChildProcess {
  const self = import.meta.url;
  const ts = self.endsWith('.ts');
  const entry = fileURLToPath(new URL(ts ? './worker.ts' : './worker.js', self));
  return fork(entry, [], {
    // An absolute loader URL: the server's working directory need not be the repository.
    execArgv: ts ? ['--import', import.meta.resolve('tsx')] : [],
    env: { ...process.env, SORI_WORKER_INIT: JSON.stringify(init) },
    // Structured clone: Float32Array PCM crosses as binary, not as a JSON array of numbers.
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Whisper on onnxruntime-node, inference in child processes behind a priority scheduler. */
export class WhisperEngine implements SpeechEngine {
  version = '';
  private readonly slots: WorkerSlot[];
  private readonly scheduler: PriorityScheduler;
  private readonly readyPromise: Promise<void>;
  private readonly beamSize: number;
  private readonly shortRequestContext: boolean;
  readonly windowBatch: number;

  constructor(cfg: EngineConfig) {
    const dir = whisperModelDir(cfg.modelsDir, cfg.model);
    const parallel = Math.max(1, cfg.parallel);
    const threadsEach = Math.max(1, Math.floor(Math.max(1, cfg.threads || cpus().length) / parallel));
    this.beamSize = cfg.beamSize;
    this.shortRequestContext = cfg.shortRequestContext ?? false;
    this.windowBatch = Math.max(1, cfg.windowBatch ?? 1);
    const log = cfg.onLog ?? ((m: string) => process.stderr.write(`sori engine: ${m}\n`));
    this.slots = Array.from({ length: parallel }, () => new WorkerSlot({ modelDir: dir, modelName: cfg.model, threads: threadsEach, modelsDir: cfg.modelsDir, referenceCacheSize: cfg.referenceCacheSize, batch: cfg.batch, windowBatch: this.windowBatch, modelCacheDir: cfg.modelCacheDir }, log));
    this.scheduler = new PriorityScheduler(parallel, cfg.queueLimit, cfg.batch ?? 1);
    this.readyPromise = Promise.all(this.slots.map((s) => s.ready)).then((v) => { this.version = v[0]; });
    this.readyPromise.catch(() => undefined);
  }

  ready(): Promise<void> {
    return this.readyPromise;
  }

  /** Requests made while the model loads queue like any other (bounded), instead of piling up. */
  async transcribe(pcm: Float32Array, options: TranscribeOptions): Promise<Transcript> {
    return (await this.transcribeMany([pcm], options))[0];
  }

  /** One request for all of `pcms` (one queue place, one inference process): see SpeechEngine.transcribeMany. */
  async transcribeMany(pcms: Float32Array[], options: TranscribeOptions): Promise<Transcript[]> {
    const opts = withRequestContext(options, this.shortRequestContext);
    return this.scheduler.run(
      opts.priority ?? 'short',
      (slot) => {
        if (opts.signal?.aborted) return Promise.reject(new TranscriptionAbortedError());
        return this.slots[slot].run(pcms, opts, this.beamSize);
      },
      opts.signal,
    );
  }

  load(): { queued: number; running: number; capacity: number } {
    return { queued: this.scheduler.queued, running: this.scheduler.running, capacity: this.scheduler.slots };
  }

  async close(): Promise<void> {
    this.scheduler.drain(new EngineFailedError('engine closed'));
    await Promise.all(this.slots.map((s) => s.close()));
  }
}

/** `options` with the engine's `shortRequestContext` applied (see EngineConfig). */
export function withRequestContext(options: TranscribeOptions, shortRequestContext: boolean): TranscribeOptions {
  const applies = shortRequestContext && options.shortContext === undefined && (options.priority ?? 'short') === 'short' && options.assessment === undefined;
  return applies ? { ...options, shortContext: true } : options;
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
