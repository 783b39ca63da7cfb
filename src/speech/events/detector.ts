/**
 * The main-thread side of sound-event detection: one worker thread per process holding YAMNet
 * (EventDetector), and per-media incremental sessions (EventSession) that cut PCM into patches,
 * send them to the worker, and turn the scores into events.
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { z } from 'zod';
import { HOP, PATCH_SAMPLES, patchCount } from './frontend.js';
import { SAMPLE_RATE } from '../../audio.js';
import { LABELS, labelScores } from './labels.js';
import type { EventWorkerInit, FromEventWorker, ToEventWorker } from './protocol.js';
import { DEFAULT_PATCH_HOP_FRAMES, DEFAULT_THRESHOLDS, DEFAULT_TIMING } from './thresholds.js';
import { EventTracker, type LabelThresholds, type PatchTiming, type SoundEvent } from './tracker.js';
import { YAMNET_CLASSES, YAMNET_DIR } from './yamnet.js';
import { stopWorker } from '../worker-stop.js';
import { PendingCalls } from '../worker-rpc.js';

export type { SoundEvent, LabelThresholds, PatchTiming } from './tracker.js';

/** Raised for input the detector refuses (not PCM, non-finite samples, pushes after finish). */
export class EventInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventInputError';
  }
}

/** Raised when the worker cannot load the model or dies while requests are in flight. */
export class EventDetectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventDetectorError';
  }
}

/**
 * Patches per worker request (8.4 s of audio at the default hop): enough that the 0.7 s of
 * overlap each request sends again is cheap, few enough that sessions sharing the worker take
 * turns often and that the samples a session holds stay few.
 */
const MAX_PATCHES_PER_REQUEST = 32;

/**
 * Built, the worker is plain .js. Under tsx (tests, benches) it is .ts, and Node 20 applies
 * neither the parent's loader hooks nor an `--import tsx` in the worker's execArgv to a worker's
 * modules (tried: "Unknown file extension .ts"), so the worker starts from a two-line script that
 * registers tsx in the worker itself and then imports the entry. Absolute URLs throughout: the
 * working directory may be anywhere.
 */
function spawnWorker(init: EventWorkerInit): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./worker.js', self), { workerData: init });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./worker.ts', self).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: init });
}

export interface EventDetectorOptions {
  /** The folder holding `yamnet-int8/` (SORI_MODELS_DIR). */
  modelsDir: string;
  /** onnxruntime intra-op threads in the worker. One is plenty: a patch takes a few ms. */
  threads?: number;
}

const detectorOptionsSchema = z.object({
  modelsDir: z.string().min(1),
  threads: z.number().int().min(1).max(64).optional(),
});

/**
 * YAMNet in a worker thread, shared by every session of the process. Requests run one at a
 * time in arrival order. If the worker dies, its requests fail with EventDetectorError and the
 * next request starts a fresh one.
 */
export class EventDetector {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private readonly calls = new PendingCalls<{ patches: number; scores: Float32Array }>({
    onBusy: () => this.worker?.ref(),
    onIdle: () => this.worker?.unref(),
  });
  private closed = false;
  private readonly init: EventWorkerInit;
  /** Engine/model string once loaded (for the result's `version`). */
  version = '';

  constructor(opts: EventDetectorOptions) {
    const o = parseInput(detectorOptionsSchema, opts, 'event detector options');
    this.init = { modelDir: join(o.modelsDir, YAMNET_DIR), threads: o.threads ?? 1 };
  }

  /** Starts the worker and loads the model (also done lazily by the first request). */
  load(): Promise<void> {
    if (this.closed) return Promise.reject(new EventDetectorError('event detector closed'));
    this.ready ??= this.start();
    return this.ready;
  }

  private start(): Promise<void> {
    const worker = spawnWorker(this.init);
    this.worker = worker;
    // An idle detector must not keep the process alive; requests in flight ref it (see `calls`).
    worker.unref();
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromEventWorker) => {
        if (m.type === 'ready') {
          this.version = m.version;
          resolve();
        } else if (m.type === 'init-error') {
          reject(new EventDetectorError(`the sound event model could not be loaded: ${m.message}`));
        } else if (m.type === 'scores') {
          this.calls.resolve(m.id, { patches: m.patches, scores: m.scores });
        } else if (m.type === 'error') {
          this.calls.reject(m.id, new EventDetectorError(m.message));
        }
      });
      worker.on('error', (err) => {
        reject(new EventDetectorError(`event worker failed: ${err.message}`));
      });
      worker.on('exit', (code) => {
        reject(new EventDetectorError(`event worker exited (code ${code}) before it was ready`));
        if (this.worker === worker) {
          this.worker = null;
          this.ready = null;
        }
        this.calls.rejectAll(new EventDetectorError(`event worker exited (code ${code})`));
      });
    }).catch((err: unknown) => {
      // A failed load is not remembered: the next request tries again.
      if (this.worker === worker) {
        this.worker = null;
        this.ready = null;
        void worker.terminate();
      }
      throw err;
    });
  }

  /**
   * Class probabilities of every whole patch of `pcm`, row-major [patches, 521]. `pcm` is
   * copied: the caller keeps its buffer.
   */
  async classify(pcm: Float32Array, hopFrames: number): Promise<{ patches: number; scores: Float32Array }> {
    await this.load();
    const worker = this.worker;
    if (!worker) throw new EventDetectorError('event worker is not running');
    const copy = pcm.slice();
    const { id, reply } = this.calls.open();
    const msg: ToEventWorker = { type: 'classify', id, pcm: copy, hopFrames };
    worker.postMessage(msg, [copy.buffer]);
    return reply;
  }

  /** A new incremental session over one media stream. */
  session(opts: EventSessionOptions = {}): EventSession {
    return new EventSession(this, opts);
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    this.ready = null;
    this.calls.rejectAll(new EventDetectorError('event detector closed'));
    const close: ToEventWorker = { type: 'close' };
    if (w) await stopWorker(w, close);
  }
}

/** One detector per process per models folder, created on first use. */
export function sharedEventDetector(modelsDir: string): EventDetector {
  let d = shared.get(modelsDir);
  if (!d) {
    d = new EventDetector({ modelsDir });
    shared.set(modelsDir, d);
  }
  return d;
}
const shared = new Map<string, EventDetector>();

const thresholdFields = z.object({
  onset: z.number().min(0).max(1),
  offset: z.number().min(0).max(1),
  minDurationMs: z.number().min(0),
  maxGapMs: z.number().min(0),
});
const thresholdsSchema = thresholdFields.refine((t) => t.offset <= t.onset, { message: 'offset threshold must not exceed the onset threshold' });

const sessionOptionsSchema = z.object({
  /** Per-label overrides, by label name. */
  thresholds: z.record(z.string(), thresholdFields.partial()).optional(),
  timing: z.object({ startShiftMs: z.number(), endShiftMs: z.number() }).partial().optional(),
  /** Patch hop in 10 ms frames (1..96); YAMNet's own is 48. */
  hopFrames: z.number().int().min(1).max(96).optional(),
  /** Called with the per-label scores of every patch (diagnostics, benches). */
  onPatch: z.custom<(index: number, labelScores: Float32Array, classScores: Float32Array) => void>((v) => typeof v === 'function').optional(),
});

export interface EventSessionOptions {
  thresholds?: Partial<Record<string, Partial<LabelThresholds>>>;
  timing?: Partial<PatchTiming>;
  hopFrames?: number;
  onPatch?: (index: number, labelScores: Float32Array, classScores: Float32Array) => void;
}

const pcmSchema = z.instanceof(Float32Array, { message: 'audio must be a Float32Array of 16 kHz mono samples' });

/**
 * Sound events of one media stream, fed in chunks of any size. Holds at most one request's worth
 * of samples (8.4 s at the default hop) whatever the length of the media, and finished events.
 *
 * `push` calls are processed in order even when not awaited; the samples are read before the
 * returned promise settles, so do not reuse the array until then.
 */
export class EventSession {
  /** Samples from the start of the next patch onwards (fewer than one request's worth). */
  private carry = new Float32Array(0);
  private nextPatch = 0;
  private totalSamples = 0;
  private readonly tracker: EventTracker;
  private readonly events: SoundEvent[] = [];
  private queue: Promise<void> = Promise.resolve();
  private finished = false;
  private failed: Error | null = null;
  private readonly onPatch: EventSessionOptions['onPatch'];
  private readonly labelBuf = new Float32Array(LABELS.length);
  private readonly hopFrames: number;
  private readonly hopSamples: number;

  constructor(private readonly detector: EventDetector, opts: EventSessionOptions = {}) {
    const o = parseInput(sessionOptionsSchema, opts, 'event session options');
    const thresholds = LABELS.map((l, i) =>
      parseInput(thresholdsSchema, { ...DEFAULT_THRESHOLDS[i], ...(o.thresholds?.[l.label] ?? {}) }, `thresholds of "${l.label}"`),
    );
    const unknown = Object.keys(o.thresholds ?? {}).filter((k) => !LABELS.some((l) => l.label === k));
    if (unknown.length) throw new EventInputError(`unknown event labels: ${unknown.join(', ')}`);
    this.hopFrames = o.hopFrames ?? DEFAULT_PATCH_HOP_FRAMES;
    this.hopSamples = this.hopFrames * HOP;
    this.tracker = new EventTracker(thresholds, { ...DEFAULT_TIMING, ...(o.timing ?? {}) }, this.hopFrames);
    this.onPatch = o.onPatch;
  }

  /** Events closed so far (complete once `finish` resolves). */
  get closedEvents(): readonly SoundEvent[] {
    return this.events;
  }

  /** Media time consumed so far, in ms. */
  get durationMs(): number {
    return (this.totalSamples / SAMPLE_RATE) * 1000;
  }

  push(pcm: Float32Array): Promise<void> {
    const parsed = pcmSchema.safeParse(pcm);
    if (!parsed.success) return Promise.reject(new EventInputError(parsed.error.issues[0]?.message ?? 'bad audio'));
    if (this.finished) return Promise.reject(new EventInputError('push after finish'));
    const bad = firstNonFinite(pcm);
    if (bad >= 0) return Promise.reject(new EventInputError(`audio sample ${bad} is not a finite number (${pcm[bad]})`));
    if (pcm.length === 0) return this.queue;
    return this.enqueue(() => this.ingest(pcm));
  }

  /** Processes the remaining audio (the last patch zero-padded, as YAMNet does) and returns every event. */
  finish(): Promise<SoundEvent[]> {
    if (this.finished) return Promise.reject(new EventInputError('finish called twice'));
    this.finished = true;
    return this.enqueue(async () => {
      // Samples past the end of the last patch computed (or any at all, for media shorter than a
      // patch) get one more, zero-padded patch.
      const coveredByLast = this.nextPatch === 0 ? 0 : PATCH_SAMPLES - this.hopSamples;
      if (this.carry.length > coveredByLast) {
        const padded = new Float32Array(PATCH_SAMPLES);
        padded.set(this.carry.subarray(0, PATCH_SAMPLES));
        await this.run(padded);
      }
      this.carry = new Float32Array(0);
      this.events.push(...this.tracker.finish(this.durationMs));
      this.events.sort((a, b) => a.startTimestamp - b.startTimestamp || a.labelIndex - b.labelIndex);
    }).then(() => [...this.events]);
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.queue.then(() => {
      if (this.failed) throw this.failed;
      return step().catch((err: unknown) => {
        // A lost worker mid-media leaves a hole in the patch sequence: refuse to go on silently.
        this.failed = err instanceof Error ? err : new Error(String(err));
        throw this.failed;
      });
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async ingest(pcm: Float32Array): Promise<void> {
    this.totalSamples += pcm.length;
    const requestSamples = (MAX_PATCHES_PER_REQUEST - 1) * this.hopSamples + PATCH_SAMPLES;
    let pos = 0;
    while (pos < pcm.length) {
      // Top the carry up to one request's worth, never more: a huge push is walked through in
      // slices rather than copied whole.
      const take = Math.min(pcm.length - pos, requestSamples - this.carry.length);
      const buf = new Float32Array(this.carry.length + take);
      buf.set(this.carry);
      buf.set(pcm.subarray(pos, pos + take), this.carry.length);
      pos += take;
      this.carry = buf;
      if (patchCount(buf.length, this.hopFrames) === 0) break;
      const done = await this.run(buf);
      this.carry = buf.slice(done * this.hopSamples);
    }
  }

  /** Classifies the whole patches at the start of `buf` (which begins at patch `nextPatch`). */
  private async run(buf: Float32Array): Promise<number> {
    const { patches, scores } = await this.detector.classify(buf, this.hopFrames);
    for (let p = 0; p < patches; p++) {
      const row = scores.subarray(p * YAMNET_CLASSES, (p + 1) * YAMNET_CLASSES);
      const ls = labelScores(row, this.labelBuf);
      this.onPatch?.(this.nextPatch, ls, row);
      this.events.push(...this.tracker.push(this.nextPatch, ls));
      this.nextPatch++;
    }
    return patches;
  }
}

/** zod at the module's edge, failing with this module's own error type. */
function parseInput<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const detail = r.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ');
  throw new EventInputError(`bad ${what}: ${detail}`);
}

function firstNonFinite(pcm: Float32Array): number {
  for (let i = 0; i < pcm.length; i++) if (!Number.isFinite(pcm[i])) return i;
  return -1;
}

/** Every event of a whole recording in one call. */
export async function detectEvents(detector: EventDetector, pcm: Float32Array, opts: EventSessionOptions = {}): Promise<SoundEvent[]> {
  const s = detector.session(opts);
  await s.push(pcm);
  return s.finish();
}

/** CLOVA's `eventTypes`: the labels seen, in LABELS order. */
export function eventTypes(events: readonly SoundEvent[]): string[] {
  const seen = new Set(events.map((e) => e.label));
  return LABELS.filter((l) => seen.has(l.label)).map((l) => l.label);
}
