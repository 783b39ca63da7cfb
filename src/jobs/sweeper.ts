/**
 * The job housekeeping no worker does: jobs nobody will finish in time end as TIMEOUT (a job
 * that is running times itself out), and finished jobs past `jobs.retentionHours` are deleted
 * with their media.
 */
import type { Logger } from 'pino';
import type { LongformParams } from '../clova/longform-params.js';
import type { Config } from '../config.js';
import { deliveriesFor } from './deliveries.js';
import { failureOutcome, timeoutMessage } from './failures.js';
import type { UploadedMedia } from './job-media.js';
import type { JobStore } from './store.js';

export interface SweeperDeps {
  store: JobStore;
  config: Pick<Config, 'jobs'>;
  /** Where purged jobs' media is removed from (this node's disk, and the bucket in cluster mode). */
  media: UploadedMedia;
  logger: Logger;
  /** Whether this process is running the job (it then times itself out). */
  isRunning: (token: string) => boolean;
  /** A job ended here. */
  onFinished: (token: string) => void;
}

const SWEEP_EVERY_MS = 60_000;

export class JobSweeper {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SweeperDeps) {}

  /** Sweeps now, then every minute. */
  start(): void {
    this.timer = setInterval(() => void this.sweep(), SWEEP_EVERY_MS);
    this.timer.unref();
    void this.sweep();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async sweep(): Promise<void> {
    try {
      const now = Date.now();
      await this.timeOutOverdue(now);
      await this.purgeExpired(now);
    } catch (err) {
      this.deps.logger.error({ err }, 'job sweep failed');
    }
  }

  private async timeOutOverdue(now: number): Promise<void> {
    const { store, config, logger } = this.deps;
    for (const token of await store.listOverdue(now - config.jobs.timeoutSeconds * 1000)) {
      if (this.deps.isRunning(token)) continue;
      const params = (await store.get(token))?.params as LongformParams | undefined;
      const outcome = failureOutcome(token, 'ERROR_GATEWAY_TIMEOUT', timeoutMessage(config.jobs.timeoutSeconds));
      // No object storage: only a COMPLETED job writes its result there.
      const deliveries = deliveriesFor(token, params, outcome.state, undefined);
      if (await store.finishUnowned(token, outcome, deliveries, now)) {
        logger.warn({ token }, 'job timed out');
        this.deps.onFinished(token);
      }
    }
  }

  private async purgeExpired(now: number): Promise<void> {
    const { store, config, media, logger } = this.deps;
    for (const token of await store.purge(now - config.jobs.retentionHours * 3600_000)) {
      await media.remove(token).catch((err: unknown) => logger.warn({ err, token }, 'removing a purged job\'s media failed'));
    }
  }
}
