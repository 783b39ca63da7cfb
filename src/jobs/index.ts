/**
 * The long-form job system as one unit: store, queue, the workers that run jobs and deliveries,
 * and the sweeper. Embedded default: SQLite and uploads in the data dir, in-process wake-ups;
 * with `database.url`, PostgreSQL, which several nodes share, and LISTEN/NOTIFY between them;
 * with `media.store: s3` too (cluster mode), uploads in the bucket, so any node runs any job.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { ObjectStorage } from '../media/fetch/object-storage.js';
import type { SpeechEngine } from '../speech/engine.js';
import type { SileroVad } from '../speech/vad/silero.js';
import { deliveryLeaseMs, ResultDeliverer } from './deliveries.js';
import { mediaDir, UploadedMedia } from './job-media.js';
import { LeasedWorker } from './leased-worker.js';
import { isDeadLocalOwner } from './owner.js';
import { LocalJobQueue, type JobQueue } from './queue.js';
import { JobRunner } from './runner.js';
import { PostgresListener } from './postgres-notifications.js';
import { PostgresJobStore } from './postgres-store.js';
import { SqliteJobStore } from './sqlite-store.js';
import { JobSweeper } from './sweeper.js';
import { lazyEnrichDeps } from './enrich.js';
import { JobStoreUnavailableError, type JobStore } from './store.js';

export interface JobSystem {
  store: JobStore;
  queue: JobQueue;
  runner: JobRunner;
  objectStorage: ObjectStorage | undefined;
  /** Where uploads are kept (`media.store`). */
  media: UploadedMedia;
  /**
   * How often a sync request re-reads a job it waits for: the end of a job run here (or, with
   * PostgreSQL, anywhere) comes as `runner.events` 'finished'; this is the fallback.
   */
  endedPollMs: number;
  start(): Promise<void>;
  close(): Promise<void>;
}

function openStore(config: Config, logger: Logger): JobStore {
  const { url, poolSize } = config.database;
  if (url === undefined) return new SqliteJobStore(join(config.dataDir, 'sori.db'));
  return new PostgresJobStore({ url, poolSize, logger: logger.child({ component: 'job-store' }) });
}

/** SQLite: another process on this disk (a restart's overlap) may end a job; a store read is cheap. */
const LOCAL_ENDED_POLL_MS = 1000;

/** How long a node starting waits for PostgreSQL before it gives up (exits). */
const STORE_BOOT_WAIT_MS = 60_000;

/**
 * PostgreSQL may be starting at the same time as this node (one compose file, a machine's
 * reboot): wait for it a while, saying so, rather than exit at once.
 */
async function migrateWhenReachable(store: PostgresJobStore, logger: Logger): Promise<number[]> {
  const deadline = Date.now() + STORE_BOOT_WAIT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await store.ready();
    } catch (err) {
      if (!(err instanceof JobStoreUnavailableError) || Date.now() >= deadline) throw err;
      if (attempt === 1) logger.warn({ err, waitSeconds: STORE_BOOT_WAIT_MS / 1000 }, 'job store: PostgreSQL unreachable; waiting for it');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** `loadVad` is the process's shared Silero loader (streams use the same model). */
export function createJobSystem(config: Config, engine: SpeechEngine, logger: Logger, loadVad: () => Promise<SileroVad>): JobSystem {
  const store = openStore(config, logger);
  const queue = new LocalJobQueue();
  const wait = (pollMs: number, signal: AbortSignal): Promise<void> => queue.wait(pollMs, signal);
  const objectStorage = config.objectStorage === undefined ? undefined : new ObjectStorage(config.objectStorage);
  const media = new UploadedMedia(config.dataDir, config.media.store === 's3' ? objectStorage : undefined);
  const enrich = lazyEnrichDeps(config.models.dir);
  const runner = new JobRunner({ store, queue, engine, vad: loadVad, objectStorage, media, enrich, config, logger });
  const { url } = config.database;
  const listener = url === undefined ? undefined : new PostgresListener({ url, logger: logger.child({ component: 'job-notifications' }) });
  if (listener !== undefined) {
    // Other nodes' news as this node's own events: workers wake, sync requests answer.
    listener.on('work', () => void queue.notify());
    listener.on('job-ended', (token: string) => runner.events.emit('finished', token));
    // Notifications sent while the connection was down are lost: look again now.
    listener.on('connected', () => {
      void queue.notify();
      runner.events.emit('recheck');
    });
  }
  const jobWorker = new LeasedWorker(runner, {
    name: 'job', slots: config.jobs.workers, leaseMs: config.jobs.leaseSeconds * 1000, wait, logger,
  });
  const sweeper = new JobSweeper({
    store, config, logger, media,
    isRunning: (token) => jobWorker.isRunning(token),
    onFinished: (token) => runner.events.emit('finished', token),
  });
  const deliverer = new ResultDeliverer({ store, objectStorage, callbacks: config.callbacks, network: config.network, logger });
  // One delivery at a time keeps ordering simple; a slow receiver is bounded by callbacks.timeoutSeconds.
  const deliveryWorker = new LeasedWorker(deliverer, { name: 'delivery', slots: 1, leaseMs: deliveryLeaseMs(config.callbacks), wait, logger });
  return {
    store,
    queue,
    runner,
    objectStorage,
    media,
    endedPollMs: url === undefined ? LOCAL_ENDED_POLL_MS : config.database.notifyFallbackSeconds * 1000,
    async start() {
      await mkdir(mediaDir(config.dataDir), { recursive: true });
      const cleared = await media.clearCopies();
      if (cleared > 0) logger.info({ files: cleared }, 'removed media copies a previous process left (the uploads are in the object store)');
      // PostgreSQL: the schema is migrated (or found migrated by another node) before any job runs.
      if (store instanceof PostgresJobStore) {
        const applied = await migrateWhenReachable(store, logger);
        logger.info({ migrationsApplied: applied }, 'job store: PostgreSQL schema up to date');
        await listener?.start();
        logger.info(
          { mediaStore: config.media.store, workers: config.jobs.workers },
          config.media.store === 's3'
            ? 'cluster mode: jobs in PostgreSQL, uploads in the object store'
            : 'jobs in PostgreSQL, uploads on this node\'s disk: other nodes can run them only if they share this data directory',
        );
      }
      // A previous process on this host cannot renew its leases: free its jobs and deliveries now
      // rather than when the leases expire.
      const released = await store.releaseLeases((owner) => isDeadLocalOwner(owner, jobWorker.owner));
      if (released > 0) logger.info({ jobs: released }, 'resuming jobs a previous process left unfinished');
      jobWorker.start();
      sweeper.start();
      deliveryWorker.start();
    },
    async close() {
      sweeper.stop();
      // Running jobs are abandoned to the next start: their leases released, they resume there.
      await jobWorker.close();
      await store.releaseLeases((owner) => owner === jobWorker.owner);
      await deliveryWorker.close();
      await deliverer.close();
      await queue.close();
      await listener?.close();
      objectStorage?.close();
      await enrich.close();
      await store.close();
    },
  };
}
