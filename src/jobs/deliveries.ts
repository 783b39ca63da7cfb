/**
 * Delivers finished jobs: POSTs the result to the client's `callback` and writes it to object
 * storage for `resultToObs`. Deliveries are rows queued in the same transaction that finished
 * the job, so a crash never loses one; each attempt is recorded; failures are retried with
 * exponential backoff for `callbacks.retryForSeconds`.
 *
 * Exactly-once on the receiver's side: a delivery is marked done right after the 2xx arrives.
 * Only a crash inside that sub-millisecond gap repeats a POST, and every POST carries
 * `X-Sori-Delivery-Id` so a receiver can drop such a repeat.
 */
import type { Logger } from 'pino';
import { request, type Dispatcher } from 'undici';
import type { CallbacksConfig } from '../config.js';
import type { ObjectStorage } from '../media/fetch/object-storage.js';
import { createGuardedAgent } from '../net/guarded-agent.js';
import type { NetworkPolicy } from '../net/address-policy.js';
import { newOwnerId, isDeadLocalOwner } from './owner.js';
import type { JobQueue } from './queue.js';
import { statusBody } from './result.js';
import type { AttemptResult, DeliveryRecord, JobStore } from './store.js';

export interface DeliveryDeps {
  store: JobStore;
  queue: JobQueue;
  objectStorage: ObjectStorage | undefined;
  callbacks: CallbacksConfig;
  network: NetworkPolicy;
  logger: Logger;
}

const IDLE_POLL_MS = 1000;
const LEASE_MS = 60_000;
const FIRST_BACKOFF_MS = 1000;

export class DeliveryWorker {
  private readonly owner = newOwnerId();
  private readonly stop = new AbortController();
  private readonly agent: Dispatcher;
  private loopDone: Promise<void> | undefined;

  constructor(private readonly deps: DeliveryDeps) {
    this.agent = createGuardedAgent(deps.network);
  }

  async start(): Promise<void> {
    await this.deps.store.releaseLeases((owner) => isDeadLocalOwner(owner, this.owner));
    this.loopDone = this.loop();
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.loopDone;
    await this.agent.close();
  }

  private async loop(): Promise<void> {
    const { store, queue, logger } = this.deps;
    while (!this.stop.signal.aborted) {
      let d: DeliveryRecord | undefined;
      try {
        d = await store.claimDelivery(this.owner, LEASE_MS, Date.now());
      } catch (err) {
        logger.error({ err }, 'claiming a delivery failed');
      }
      if (d === undefined) {
        await queue.wait(IDLE_POLL_MS, this.stop.signal);
        continue;
      }
      // One at a time keeps ordering simple; slow receivers are bounded by timeoutSeconds.
      await this.attempt(d);
    }
  }

  private async attempt(d: DeliveryRecord): Promise<void> {
    const { store, callbacks, logger } = this.deps;
    const log = logger.child({ token: d.token, delivery: d.kind, attempt: d.attempts + 1 });
    const started = performance.now();
    let status: number | null = null;
    let error: string | undefined;
    try {
      const job = await store.get(d.token);
      if (job === undefined) throw new Error('job no longer exists');
      const body = statusBody(job);
      if (d.kind === 'callback') status = await this.post(d, body);
      else await this.putObject(d, body);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      const answered = (err as { status?: unknown }).status;
      if (typeof answered === 'number') status = answered;
    }
    const ms = performance.now() - started;
    const now = Date.now();
    let result: AttemptResult;
    if (error === undefined) {
      result = { outcome: 'delivered', status, ms };
      log.info({ status, ms: Math.round(ms) }, 'result delivered');
    } else {
      const backoff = Math.min(FIRST_BACKOFF_MS * 2 ** d.attempts, callbacks.maxBackoffSeconds * 1000);
      const nextAt = now + backoff;
      if (nextAt > d.createdAt + callbacks.retryForSeconds * 1000) {
        result = { outcome: 'gave-up', status, error, ms };
        log.warn({ status, reason: error }, 'result delivery failed; giving up');
      } else {
        result = { outcome: 'retry', nextAt, status, error, ms };
        log.info({ status, reason: error, retryInMs: backoff }, 'result delivery failed; will retry');
      }
    }
    try {
      await store.recordAttempt(d.id, this.owner, result, now);
    } catch (err) {
      log.error({ err }, 'recording a delivery attempt failed');
    }
  }

  private async post(d: DeliveryRecord, body: unknown): Promise<number> {
    const timeoutMs = this.deps.callbacks.timeoutSeconds * 1000;
    const res = await request(d.target, {
      method: 'POST',
      dispatcher: this.agent,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'sori-callback',
        'x-sori-delivery-id': String(d.id),
        'x-sori-token': d.token,
      },
      body: JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.any([this.stop.signal, AbortSignal.timeout(timeoutMs)]),
    });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const err = new Error(`receiver answered HTTP ${res.statusCode}`);
      throw Object.assign(err, { status: res.statusCode });
    }
    return res.statusCode;
  }

  private async putObject(d: DeliveryRecord, body: unknown): Promise<void> {
    const storage = this.deps.objectStorage;
    if (storage === undefined) throw new Error('no object storage is configured');
    await storage.putJson(d.target, body);
  }
}
