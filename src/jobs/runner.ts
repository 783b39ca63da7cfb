/**
 * Runs one long-form job, claimed under a lease by a LeasedWorker: gets its media, probes it,
 * recognises it with speakers and sound events beside, and finishes it with its deliveries in
 * one transaction. Several run at once (config `jobs.workers`); their windows share the engine
 * at batch priority, below short requests and streams. Nothing heavy runs on this event loop:
 * ffmpeg and inference are child processes and VAD runs in onnxruntime's threads.
 *
 * Crash safety: the lease is renewed while a job runs; if this process dies, the next start (or
 * another worker, once the lease expires) takes the job again and resumes from its checkpoint.
 * A job that keeps killing its worker fails after `jobs.maxAttempts` instead of looping.
 */
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { forbiddenMatcher, parseForbiddens } from '../transcript/forbidden.js';
import { assignSpeakers, type SpeakerTurn } from '../transcript/speakers.js';
import { secondLook } from './second-look.js';
import { enrichMedia, type EnrichDeps, type Enrichment } from './enrich.js';
import { boostingKeywords, engineLanguage, type LongformParams } from '../clova/longform-params.js';
import type { Config } from '../config.js';
import { probeFile, toolLimits, type ToolLimits } from '../media/decode.js';
import type { ObjectStorage } from '../media/fetch/object-storage.js';
import type { SpeechEngine } from '../speech/engine.js';
import type { SileroVad } from '../speech/vad/silero.js';
import type { LongformSegment } from '../transcript/segments.js';
import { deliveriesFor } from './deliveries.js';
import { classifyFailure, failureOutcome, isDiskFull, JobFailure, timeoutMessage } from './failures.js';
import { materializeMedia, mediaPath } from './job-media.js';
import type { Lease, LeasedWork } from './leased-worker.js';
import type { JobQueue } from './queue.js';
import { recognizeMedia, type RecognizeOutcome, type RecognizeRequest } from './recognize.js';
import type { CompletedResult } from '../clova/longform-result.js';
import { completedResult } from './result.js';
import { JobStoreUnavailableError, type JobOutcome, type JobRecord, type JobStore } from './store.js';

export interface RunnerDeps {
  store: JobStore;
  queue: JobQueue;
  engine: SpeechEngine;
  /** Loaded on first use. */
  vad: () => Promise<SileroVad>;
  objectStorage: ObjectStorage | undefined;
  /** Diarization and sound-event models, loaded on first use. */
  enrich: EnrichDeps;
  config: Pick<Config, 'jobs' | 'longform' | 'network' | 'dataDir' | 'subtitles' | 'media'>;
  logger: Logger;
}

/** What a completed job is stored with, and what its log line reports. */
interface Transcribed {
  result: CompletedResult;
  audioMs: number;
  segmentCount: number;
}

const CHECKPOINT_EVERY_MS = 15_000;

export class JobRunner implements LeasedWork<JobRecord> {
  /** Emits `finished` with the token when a job this process ran ends. */
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

  /** From the job's media to its CLOVA result body. */
  private async transcribe(job: JobRecord, lease: Lease, log: Logger): Promise<Transcribed> {
    const params = job.params as LongformParams;
    const path = await materializeMedia(job, this.deps, lease.signal);
    const durationS = await this.probeDuration(path, params, lease.signal);
    const enrichment = this.startEnrichment(path, params, lease.signal);
    const recognized = await this.recognize(job, path, durationS, lease, log);
    const { turns, events } = await enrichment;
    const language = engineLanguage(params.language).code;
    const heard = turns === undefined ? recognized.segments : await this.withSecondLook(job, path, recognized, turns, lease, log);
    const segments = turns === undefined ? heard : assignSpeakers(heard, turns, language);
    const { engine, config } = this.deps;
    const result = completedResult(
      { token: job.token, domain: job.domain, params, version: engine.version, subtitleLineChars: config.subtitles.lineChars },
      segments,
      events,
    );
    return { result, audioMs: recognized.durationMs, segmentCount: recognized.segments.length };
  }

  /** The first pass's segments plus what a second look finds where speakers spoke and it heard nothing. */
  private async withSecondLook(job: JobRecord, path: string, recognized: RecognizeOutcome, turns: SpeakerTurn[], lease: Lease, log: Logger): Promise<LongformSegment[]> {
    const look = await secondLook(
      this.deps.engine,
      { ...textOptions(job.params as LongformParams, path, this.tools), mediaMs: recognized.durationMs },
      recognized.segments,
      turns,
      lease.signal,
    );
    if (look.spans > 0) log.info({ spans: look.spans, kept: look.kept, segments: look.segments.length }, 'second look at uncovered speaker turns');
    return [...recognized.segments, ...look.segments].sort((a, b) => a.start - b.start);
  }

  /** The container's duration (if it tells), refusing media longer than the request's completion accepts. */
  private async probeDuration(path: string, params: LongformParams, signal: AbortSignal): Promise<number | undefined> {
    const { durationS } = await probeFile(path, { ...this.tools, signal });
    const maxS = this.maxSeconds(params);
    if (durationS !== undefined && durationS > maxS + 1) {
      throw new JobFailure('ERROR_REQUEST_PARAMETER', `media is ${Math.round(durationS)} s long; ${params.completion} requests accept up to ${maxS} s`);
    }
    return durationS;
  }

  private maxSeconds(params: LongformParams): number {
    const { longform } = this.deps.config;
    return params.completion === 'sync' ? longform.syncMaxSeconds : longform.asyncMaxSeconds;
  }

  /** Speakers and sound events, over the whole file beside recognition; awaited after it. */
  private startEnrichment(path: string, params: LongformParams, signal: AbortSignal): Promise<Enrichment> {
    const enrichment = enrichMedia(this.deps.enrich, {
      mediaPath: path,
      diarization: params.diarization.enable ? params.diarization : undefined,
      sed: params.sed.enable,
      maxSeconds: this.maxSeconds(params),
      tools: this.tools,
      signal,
    });
    // Unobserved until recognition ends; a rejection meanwhile must not count as unhandled.
    enrichment.catch(() => undefined);
    return enrichment;
  }

  /**
   * Recognition from the job's checkpoint on. Raises the lease's progress as windows finish, and
   * checks the decoded length too: the container's duration may be missing or wrong.
   */
  private async recognize(job: JobRecord, path: string, durationS: number | undefined, lease: Lease, log: Logger): Promise<RecognizeOutcome> {
    const params = job.params as LongformParams;
    const outcome = await recognizeMedia(
      this.deps.engine,
      await this.deps.vad(),
      {
        ...textOptions(params, path, this.tools),
        noiseFiltering: params.noiseFiltering,
        resumeAtMs: job.resumeAtMs,
        done: (job.partial as LongformSegment[] | null) ?? [],
        durationS,
        // A container may claim less than it holds: decoding stops at the limit instead of recognising hours first.
        maxSeconds: this.maxSeconds(params),
      },
      {
        signal: lease.signal,
        onProgress: (fraction) => {
          lease.progress = Math.max(lease.progress, Math.floor(fraction * 100));
        },
        onWindowDone: this.checkpointer(job, lease.owner, log),
      },
    );
    const maxS = this.maxSeconds(params);
    if (outcome.durationMs > (maxS + 1) * 1000) {
      throw new JobFailure('ERROR_REQUEST_PARAMETER', `media is longer than the ${maxS} s limit of ${params.completion} requests`);
    }
    return outcome;
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
    const { store, queue, objectStorage, config } = this.deps;
    const deliveries = deliveriesFor(job.token, job.params as LongformParams, outcome.state, objectStorage);
    const done = await store.finish(job.token, owner, outcome, deliveries, Date.now());
    if (!done) {
      log.warn('job finished here but its lease had passed to another worker; result discarded');
      return;
    }
    if (deliveries.length > 0) void queue.notify();
    this.events.emit('finished', job.token);
    await rm(mediaPath(config.dataDir, job.token), { force: true });
  }
}

/** What the first pass and the second look both decode with: the media, ffmpeg's bounds, language, script, keywords and masking. */
function textOptions(params: LongformParams, mediaPath: string, tools: ToolLimits): Pick<RecognizeRequest, 'mediaPath' | 'tools' | 'language' | 'script' | 'keywords' | 'mask'> {
  const language = engineLanguage(params.language);
  return {
    mediaPath,
    tools,
    language: language.code,
    script: language.script,
    keywords: boostingKeywords(params),
    mask: forbiddenMatcher(parseForbiddens(params.forbiddens)),
  };
}
