/**
 * The long-form job system as one unit: store, queue, the workers that run jobs and deliveries,
 * and the sweeper. Embedded default: SQLite in the data dir and an in-process queue; with
 * `database.url`, PostgreSQL, which several nodes share.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { ObjectStorage } from '../media/fetch/object-storage.js';
import type { SpeechEngine } from '../speech/engine.js';
import type { SileroVad } from '../speech/vad/silero.js';
import { deliveryLeaseMs, ResultDeliverer } from './deliveries.js';
import { mediaDir } from './job-media.js';
import { LeasedWorker } from './leased-worker.js';
import { isDeadLocalOwner } from './owner.js';
import { LocalJobQueue, type JobQueue } from './queue.js';
import { JobRunner } from './runner.js';
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
  start(): Promise<void>;
  close(): Promise<void>;
}

function openStore(config: Config, logger: Logger): JobStore {
  const { url, poolSize } = config.database;
  if (url === undefined) return new SqliteJobStore(join(config.dataDir, 'sori.db'));
  return new PostgresJobStore({ url, poolSize, logger: logger.child({ component: 'job-store' }) });
}

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
  const enrich = lazyEnrichDeps(config.models.dir);
  const runner = new JobRunner({ store, queue, engine, vad: loadVad, objectStorage, enrich, config, logger });
  const jobWorker = new LeasedWorker(runner, {
    name: 'job', slots: config.jobs.workers, leaseMs: config.jobs.leaseSeconds * 1000, wait, logger,
  });
  const sweeper = new JobSweeper({
    store, config, logger,
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
    async start() {
      await mkdir(mediaDir(config.dataDir), { recursive: true });
      // PostgreSQL: the schema is migrated (or found migrated by another node) before any job runs.
      if (store instanceof PostgresJobStore) {
        const applied = await migrateWhenReachable(store, logger);
        logger.info({ migrationsApplied: applied }, 'job store: PostgreSQL schema up to date');
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
      objectStorage?.close();
      await enrich.close();
      await store.close();
    },
  };
}
