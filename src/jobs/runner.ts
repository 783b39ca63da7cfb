/**
 * Runs one long-form job, claimed under a lease by a LeasedWorker: gets its media, transcribes it
 * (transcribe-media.ts: probe, recognition with speakers and sound events beside), and finishes
 * it with its deliveries in one transaction. Several run at once (config `jobs.workers`); their windows share the engine
 * at batch priority, below short requests and streams. Nothing heavy runs on this event loop:
 * ffmpeg and inference are child processes and VAD runs in onnxruntime's threads.
 *
 * Crash safety: the lease is renewed while a job runs; if this process dies, the next start (or
 * another worker, once the lease expires) takes the job again and resumes from its checkpoint.
 * A job that keeps killing its worker fails after `jobs.maxAttempts` instead of looping.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { EnrichDeps } from './enrich.js';
import type { LongformParams } from '../clova/longform-params.js';
import type { Config } from '../config.js';
import { toolLimits, type ToolLimits } from '../media/decode.js';
import type { ObjectStorage } from '../media/fetch/object-storage.js';
import { InferenceProcessExitedError, type SpeechEngine } from '../speech/engine.js';
import type { SileroVad } from '../speech/vad/silero.js';
import type { LongformSegment } from '../transcript/segments.js';
import { deliveriesFor } from './deliveries.js';
import { classifyFailure, failureOutcome, isDiskFull, JobFailure, timeoutMessage } from './failures.js';
import { materializeMedia, MediaStoreUnavailableError, type UploadedMedia } from './job-media.js';
import type { Lease, LeasedWork } from './leased-worker.js';
import type { JobQueue } from './queue.js';
import { transcribeMedia, type TranscribedMedia } from './transcribe-media.js';
import { JobStoreUnavailableError, type JobOutcome, type JobRecord, type JobStore } from './store.js';

export interface RunnerDeps {
  store: JobStore;
  queue: JobQueue;
  engine: SpeechEngine;
  /** Loaded on first use. */
  vad: () => Promise<SileroVad>;
  objectStorage: ObjectStorage | undefined;
  /** Uploads' home (local disk or the bucket): a finished job's media is removed from it. */
  media: UploadedMedia;
  /** Diarization and sound-event models, loaded on first use. */
  enrich: EnrichDeps;
  config: Pick<Config, 'jobs' | 'longform' | 'network' | 'dataDir' | 'subtitles' | 'media'>;
  logger: Logger;
}

const CHECKPOINT_EVERY_MS = 15_000;

export class JobRunner implements LeasedWork<JobRecord> {
  /**
   * Emits `finished` with the token when a job ends: one this process ran, one its sweeper timed
   * out, or (PostgreSQL) one any node ended, as NOTIFY says; `recheck` when such notifications
   * may have been missed (the listening connection was reopened); `closing` at shutdown.
   */
  readonly events = new EventEmitter();

  /** ffmpeg's time, stall and memory bounds (config `media`). */
  private readonly tools: ToolLimits;

  constructor(private readonly deps: RunnerDeps) {
    this.events.setMaxListeners(0);
    this.tools = toolLimits(deps.config.media);
  }

  claim(owner: string, leaseMs: number, now: number): Promise<JobRecord | undefined> {
    return this.deps.store.claim(owner, leaseMs, now);
  }

  renew(job: JobRecord, lease: Lease, leaseMs: number, now: number): Promise<boolean> {
    return this.deps.store.heartbeat(job.token, lease.owner, leaseMs, lease.progress, now);
  }

  /** `jobs.timeoutSeconds` counts from acceptance: time spent waiting counts too. */
  deadline(job: JobRecord): { at: number; error: () => Error } {
    const { timeoutSeconds } = this.deps.config.jobs;
    return {
      at: job.createdAt + timeoutSeconds * 1000,
      error: () => new JobFailure('ERROR_GATEWAY_TIMEOUT', timeoutMessage(timeoutSeconds)),
    };
  }

  key(job: JobRecord): string {
    return job.token;
  }

  logFields(job: JobRecord): Record<string, unknown> {
    return { token: job.token, domain: job.domain };
  }

  /** One claimed job to its end: completed, failed, or left unfinished for the next claim. */
  async process(job: JobRecord, lease: Lease): Promise<void> {
    const log = this.deps.logger.child(this.logFields(job));
    lease.progress = job.progress;
    const started = Date.now();
    try {
      this.refuseCrashLoop(job);
      log.info({ attempt: job.attempts, source: job.source.kind, resumeAtMs: job.resumeAtMs }, 'job started');
      const transcribed = await this.transcribe(job, lease, log);
      await this.finish(job, lease.owner, { state: 'COMPLETED', result: transcribed.result }, log);
      log.info({ audioMs: transcribed.audioMs, ms: Date.now() - started, segments: transcribed.segmentCount }, 'job completed');
    } catch (err) {
      await this.endStopped(job, lease, err, log);
    }
  }

  /** `attempts` counts claims since the last checkpoint: that many means the job kills its worker. */
  private refuseCrashLoop(job: JobRecord): void {
    const { maxAttempts } = this.deps.config.jobs;
    if (job.attempts > maxAttempts) {
      throw new JobFailure('ERROR_INTERNAL_ERROR', `processing stopped ${job.attempts - 1} times without making progress; giving up`);
    }
  }

  /** From the job's media to its CLOVA result body: transcribe-media.ts, from the checkpoint on. */
  private async transcribe(job: JobRecord, lease: Lease, log: Logger): Promise<TranscribedMedia> {
    const path = await materializeMedia(job, this.deps, lease.signal);
    const { engine, vad, enrich, config } = this.deps;
    return transcribeMedia(
      { engine, vad, enrich, config, tools: this.tools },
      {
        token: job.token,
        domain: job.domain,
        params: job.params as LongformParams,
        mediaPath: path,
        resumeAtMs: job.resumeAtMs,
        done: (job.partial as LongformSegment[] | null) ?? [],
      },
      {
        signal: lease.signal,
        onProgress: (fraction) => {
          lease.progress = Math.max(lease.progress, Math.floor(fraction * 100));
        },
        onWindowDone: this.checkpointer(job, lease.owner, log),
        log,
      },
    );
  }

  /**
   * Saves finished windows at most every CHECKPOINT_EVERY_MS. The first is saved at once: it
   * proves the job does not kill its worker (a checkpoint resets `attempts`).
   */
  private checkpointer(job: JobRecord, owner: string, log: Logger): (resumeAtMs: number, segments: readonly LongformSegment[]) => void {
    let lastCheckpoint = 0;
    return (resumeAtMs, segments) => {
      if (Date.now() - lastCheckpoint < CHECKPOINT_EVERY_MS) return;
      lastCheckpoint = Date.now();
      void this.deps.store.checkpoint(job.token, owner, resumeAtMs, segments).catch((err: unknown) => log.warn({ err }, 'checkpoint failed'));
    };
  }

  /**
   * A job that stopped before completing: left for the next claim if this process gave it up
   * (lease lost, shutting down), else ended as FAILED or TIMEOUT with the spec's error code.
   */
  private async endStopped(job: JobRecord, lease: Lease, err: unknown, log: Logger): Promise<void> {
    const reason: unknown = lease.signal.aborted ? lease.signal.reason : err;
    if (lease.interrupted) {
      log.warn({ reason: (reason as Error)?.message }, 'job interrupted; it will be resumed');
      return;
    }
    // Our disk, not the job: left unfinished (nothing of it was stored half: SQLite rolled back),
    // it is claimed again once its lease lapses, which needs room to write too.
    if (isDiskFull(reason)) {
      log.error({ err: reason }, 'the data dir is full: job left unfinished; it resumes once there is room');
      return;
    }
    // The store's server is away (PostgreSQL restarting): this outcome cannot be written now, and
    // writing FAILED later would be wrong. Left unfinished, the job is claimed again from its
    // checkpoint once its lease lapses and the store is back.
    if (reason instanceof JobStoreUnavailableError) {
      log.error({ err: reason }, 'the job store is unavailable: job left unfinished; it resumes once the store is back');
      return;
    }
    // Likewise the bucket holding an upload (cluster mode): the media is there, out of reach now.
    if (reason instanceof MediaStoreUnavailableError) {
      log.error({ err: reason }, 'the object store is unavailable: job left unfinished; it resumes once the store is back');
      return;
    }
    // The inference process died under it (a native crash, the OOM killer) and the engine is
    // starting another: left unfinished with its lease given up, the job is claimed again at once
    // and resumes from its checkpoint. One that keeps killing it fails on `jobs.maxAttempts`
    // (refuseCrashLoop: a checkpoint is what resets the count).
    if (reason instanceof InferenceProcessExitedError) {
      log.error({ err: reason }, 'the inference process died under the job: job left unfinished; it resumes from its checkpoint');
      await this.deps.store.heartbeat(job.token, lease.owner, -1, lease.progress, Date.now())
        .then(() => this.deps.queue.notify())
        .catch((err: unknown) => log.warn({ err }, 'giving up the lease failed; the job resumes once it lapses'));
      return;
    }
    const failure = classifyFailure(reason);
    if (failure.code === 'ERROR_INTERNAL_ERROR') log.error({ err: reason }, 'job failed');
    else log.info({ errorCode: failure.code, reason: failure.message }, 'job failed');
    try {
      await this.finish(job, lease.owner, failureOutcome(job.token, failure.code, failure.message), log);
    } catch (finishErr) {
      log.error({ err: finishErr }, 'recording the failure failed');
    }
  }

  /** Ends the job and queues its deliveries in one transaction (refused if the lease has passed on). */
  private async finish(job: JobRecord, owner: string, outcome: JobOutcome, log: Logger): Promise<void> {
    const { store, queue, objectStorage, media } = this.deps;
    const deliveries = deliveriesFor(job.token, job.params as LongformParams, outcome.state, objectStorage);
    const done = await store.finish(job.token, owner, outcome, deliveries, Date.now());
    if (!done) {
      log.warn('job finished here but its lease had passed to another worker; result discarded');
      return;
    }
    if (deliveries.length > 0) void queue.notify();
    this.events.emit('finished', job.token);
    // Left behind, the media is removed again when the job is purged.
    await media.remove(job.token, job.source).catch((err: unknown) => log.warn({ err }, 'removing the job\'s media failed'));
  }
}
