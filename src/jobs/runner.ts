/**
 * Runs long-form jobs: claims one from the store under a lease, fetches its media, recognises
 * it, and finishes it with its deliveries in one transaction. Several run at once (config
 * `jobs.workers`); their windows share the engine at batch priority, below short requests and
 * streams. Nothing heavy runs on this event loop: ffmpeg and inference are child processes and
 * VAD runs in onnxruntime's threads.
 *
 * Crash safety: the lease is renewed while a job runs; if this process dies, the next start (or
 * another worker, once the lease expires) takes the job again and resumes from its checkpoint.
 * A job that keeps killing its worker fails after `jobs.maxAttempts` instead of looping.
 */
import { EventEmitter } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { forbiddenMatcher, parseForbiddens } from '../transcript/forbidden.js';
import { assignSpeakers } from '../transcript/speakers.js';
import { enrichMedia, type EnrichDeps } from './enrich.js';
import { boostingKeywords, engineLanguage, type LongformParams } from '../clova/longform-params.js';
import type { Config } from '../config.js';
import { probeFile } from '../media/decode.js';
import type { ObjectStorage } from '../media/fetch/object-storage.js';
import type { SpeechEngine } from '../speech/engine.js';
import type { SileroVad } from '../speech/vad/silero.js';
import type { LongformSegment } from '../transcript/segments.js';
import { classifyFailure, JobFailure } from './failures.js';
import { materializeMedia, mediaDir, mediaPath } from './job-media.js';
import { isDeadLocalOwner, newOwnerId } from './owner.js';
import type { JobQueue } from './queue.js';
import { recognizeMedia } from './recognize.js';
import { completedResult } from './result.js';
import type { JobOutcome, JobRecord, JobStore, NewDelivery } from './store.js';

export interface RunnerDeps {
  store: JobStore;
  queue: JobQueue;
  engine: SpeechEngine;
  /** Loaded on first use. */
  vad: () => Promise<SileroVad>;
  objectStorage: ObjectStorage | undefined;
  /** Diarization and sound-event models, loaded on first use. */
  enrich: EnrichDeps;
  config: Pick<Config, 'jobs' | 'longform' | 'network' | 'dataDir' | 'subtitles'>;
  logger: Logger;
}

const CHECKPOINT_EVERY_MS = 15_000;
const IDLE_POLL_MS = 1000;
const SWEEP_EVERY_MS = 60_000;

export class JobRunner {
  readonly owner = newOwnerId();
  /** Emits `finished` with the token when a job this process ran ends. */
  readonly events = new EventEmitter();
  private readonly stop = new AbortController();
  private loops: Promise<void>[] = [];
  private sweeper: NodeJS.Timeout | undefined;
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly deps: RunnerDeps) {
    this.events.setMaxListeners(0);
  }

  async start(): Promise<void> {
    const { store, config, logger } = this.deps;
    await mkdir(mediaDir(config.dataDir), { recursive: true });
    const released = await store.releaseLeases((owner) => isDeadLocalOwner(owner, this.owner));
    if (released > 0) logger.info({ jobs: released }, 'resuming jobs a previous process left unfinished');
    for (let i = 0; i < config.jobs.workers; i++) this.loops.push(this.loop(i));
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_EVERY_MS);
    this.sweeper.unref();
    void this.sweep();
  }

  /** Stops taking jobs; running ones are abandoned to the next start (their leases released). */
  async close(): Promise<void> {
    this.stop.abort();
    clearInterval(this.sweeper);
    for (const c of this.running.values()) c.abort(new Error('server shutting down'));
    await Promise.allSettled(this.loops);
    await this.deps.store.releaseLeases((owner) => owner === this.owner);
  }

  private async loop(slot: number): Promise<void> {
    const { store, queue, config, logger } = this.deps;
    while (!this.stop.signal.aborted) {
      let job: JobRecord | undefined;
      try {
        job = await store.claim(this.owner, config.jobs.leaseSeconds * 1000, Date.now());
      } catch (err) {
        logger.error({ err, slot }, 'claiming a job failed');
      }
      if (job === undefined) {
        await queue.wait(IDLE_POLL_MS, this.stop.signal);
        continue;
      }
      await this.run(job);
    }
  }

  private async run(job: JobRecord): Promise<void> {
    const { store, config, logger } = this.deps;
    const log = logger.child({ token: job.token, domain: job.domain });
    const params = job.params as LongformParams;
    const leaseMs = config.jobs.leaseSeconds * 1000;
    const abort = new AbortController();
    this.running.set(job.token, abort);
    let progress = job.progress;
    let leaseLost = false;
    const timeoutAt = job.createdAt + config.jobs.timeoutSeconds * 1000;

    // Renewed every 2 s at most, so that the `progress` a client polls moves on short jobs too.
    const heartbeat = setInterval(() => {
      if (Date.now() > timeoutAt) {
        abort.abort(new JobFailure('ERROR_GATEWAY_TIMEOUT', `job did not finish within ${config.jobs.timeoutSeconds} s`));
        return;
      }
      store.heartbeat(job.token, this.owner, leaseMs, progress, Date.now()).then(
        (held) => {
          if (!held && !abort.signal.aborted) {
            leaseLost = true;
            abort.abort(new Error('lease lost'));
          }
        },
        (err: unknown) => log.warn({ err }, 'lease renewal failed'),
      );
    }, Math.max(500, Math.min(2000, leaseMs / 3)));

    const finish = async (outcome: JobOutcome): Promise<void> => {
      const deliveries: NewDelivery[] = [];
      if (params.callback !== undefined) deliveries.push({ kind: 'callback', target: params.callback });
      if (params.resultToObs && outcome.state === 'COMPLETED' && this.deps.objectStorage !== undefined) {
        deliveries.push({ kind: 'object-storage', target: `${this.deps.objectStorage.resultPrefix}${job.token}.json` });
      }
      const done = await store.finish(job.token, this.owner, outcome, deliveries, Date.now());
      if (!done) {
        log.warn('job finished here but its lease had passed to another worker; result discarded');
        return;
      }
      if (deliveries.length > 0) void this.deps.queue.notify();
      this.events.emit('finished', job.token);
      await rm(mediaPath(config.dataDir, job.token), { force: true });
    };

    const started = Date.now();
    try {
      if (job.attempts > config.jobs.maxAttempts) {
        throw new JobFailure('ERROR_INTERNAL_ERROR', `processing stopped ${job.attempts - 1} times without making progress; giving up`);
      }
      log.info({ attempt: job.attempts, source: job.source.kind, resumeAtMs: job.resumeAtMs }, 'job started');
      const path = await materializeMedia(job, this.deps, abort.signal);
      const info = await probeFile(path, { signal: abort.signal });
      const maxS = params.completion === 'sync' ? config.longform.syncMaxSeconds : config.longform.asyncMaxSeconds;
      if (info.durationS !== undefined && info.durationS > maxS + 1) {
        throw new JobFailure('ERROR_REQUEST_PARAMETER', `media is ${Math.round(info.durationS)} s long; ${params.completion} requests accept up to ${maxS} s`);
      }
      const lang = engineLanguage(params.language);
      const keywords = boostingKeywords(params);
      // Speakers and sound events run beside recognition, over the whole file.
      const enrichment = enrichMedia(this.deps.enrich, {
        mediaPath: path,
        diarization: params.diarization.enable ? params.diarization : undefined,
        sed: params.sed.enable,
        signal: abort.signal,
      });
      enrichment.catch(() => undefined); // awaited below, after recognition
      // The first window is checkpointed at once: it proves the job does not kill its worker.
      let lastCheckpoint = 0;
      const outcome = await recognizeMedia(
        this.deps.engine,
        await this.deps.vad(),
        {
          mediaPath: path,
          language: lang.code,
          script: lang.script,
          keywords,
          mask: forbiddenMatcher(parseForbiddens(params.forbiddens)),
          noiseFiltering: params.noiseFiltering,
          resumeAtMs: job.resumeAtMs,
          done: (job.partial as LongformSegment[] | null) ?? [],
          durationS: info.durationS,
        },
        {
          signal: abort.signal,
          onProgress: (f) => {
            progress = Math.max(progress, Math.floor(f * 100));
          },
          onWindowDone: (resumeAtMs, segments) => {
            if (Date.now() - lastCheckpoint < CHECKPOINT_EVERY_MS) return;
            lastCheckpoint = Date.now();
            void store.checkpoint(job.token, this.owner, resumeAtMs, segments).catch((err: unknown) => log.warn({ err }, 'checkpoint failed'));
          },
        },
      );
      if (outcome.durationMs > (maxS + 1) * 1000) {
        throw new JobFailure('ERROR_REQUEST_PARAMETER', `media is longer than the ${maxS} s limit of ${params.completion} requests`);
      }
      const { turns, events } = await enrichment;
      const segments = turns === undefined ? outcome.segments : assignSpeakers(outcome.segments, turns, lang.code);
      const result = completedResult(
        { token: job.token, domain: job.domain, params, version: this.deps.engine.version, subtitleLineChars: config.subtitles.lineChars },
        segments,
        events,
      );
      await finish({ state: 'COMPLETED', result });
      log.info({ audioMs: outcome.durationMs, ms: Date.now() - started, segments: outcome.segments.length }, 'job completed');
    } catch (err) {
      const reason: unknown = abort.signal.aborted ? abort.signal.reason : err;
      if (leaseLost || this.stop.signal.aborted) {
        log.warn({ reason: (reason as Error)?.message }, 'job interrupted; it will be resumed');
        return;
      }
      const failure = classifyFailure(reason);
      const state = failure.code === 'ERROR_GATEWAY_TIMEOUT' ? 'TIMEOUT' : 'FAILED';
      if (failure.code === 'ERROR_INTERNAL_ERROR') log.error({ err: reason }, 'job failed');
      else log.info({ errorCode: failure.code, reason: failure.message }, 'job failed');
      try {
        await finish({
          state,
          result: { result: failure.code, message: failure.message, token: job.token },
          errorCode: failure.code,
          errorMessage: failure.message,
        });
      } catch (finishErr) {
        log.error({ err: finishErr }, 'recording the failure failed');
      }
    } finally {
      clearInterval(heartbeat);
      this.running.delete(job.token);
    }
  }

  /** Jobs nobody will finish in time end as TIMEOUT; old finished jobs are deleted. */
  private async sweep(): Promise<void> {
    const { store, config, logger } = this.deps;
    try {
      const now = Date.now();
      for (const token of await store.listOverdue(now - config.jobs.timeoutSeconds * 1000)) {
        if (this.running.has(token)) continue;
        const job = await store.get(token);
        const params = job?.params as LongformParams | undefined;
        const message = `job did not finish within ${config.jobs.timeoutSeconds} s`;
        const deliveries: NewDelivery[] = params?.callback !== undefined ? [{ kind: 'callback', target: params.callback }] : [];
        const done = await store.finishUnowned(token, {
          state: 'TIMEOUT', result: { result: 'ERROR_GATEWAY_TIMEOUT', message, token },
          errorCode: 'ERROR_GATEWAY_TIMEOUT', errorMessage: message,
        }, deliveries, now);
        if (done) {
          logger.warn({ token }, 'job timed out');
          this.events.emit('finished', token);
        }
      }
      for (const token of await store.purge(now - config.jobs.retentionHours * 3600_000)) {
        await rm(mediaPath(config.dataDir, token), { force: true });
      }
    } catch (err) {
      logger.error({ err }, 'job sweep failed');
    }
  }
}
