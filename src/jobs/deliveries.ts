/**
 * Delivers finished jobs: POSTs the result to the client's `callback` and writes it to object
 * storage for `resultToObs`. Deliveries are rows queued in the same transaction that finished
 * the job, so a crash never loses one; each attempt is recorded; failures are retried with
 * exponential backoff for `callbacks.retryForSeconds`. A LeasedWorker claims them and runs
 * them here, one attempt per claim.
 *
 * Exactly-once on the receiver's side: a delivery is marked done right after the 2xx arrives.
 * Only a crash inside that sub-millisecond gap repeats a POST, and every POST carries
 * `X-Sori-Delivery-Id` so a receiver can drop such a repeat.
 */
import type { Logger } from 'pino';
import { request, type Dispatcher } from 'undici';
import type { LongformParams } from '../clova/longform-params.js';
import type { CallbacksConfig } from '../config.js';
import type { ObjectStorage } from '../media/fetch/object-storage.js';
import { createGuardedAgent } from '../net/guarded-agent.js';
import type { NetworkPolicy } from '../net/address-policy.js';
import type { Lease, LeasedWork } from './leased-worker.js';
import { statusBody } from './result.js';
import type { AttemptResult, DeliveryRecord, JobOutcome, JobStore, NewDelivery } from './store.js';

export interface DeliveryDeps {
  store: JobStore;
  objectStorage: ObjectStorage | undefined;
  callbacks: CallbacksConfig;
  network: NetworkPolicy;
  logger: Logger;
}

/**
 * Deliveries take no heartbeat: one attempt is bounded by `callbacks.timeoutSeconds`, so the
 * lease outlasts it with room to spare; a shorter lease would let another process claim a
 * delivery while its POST is still under way, and the receiver would get it twice.
 */
export function deliveryLeaseMs(callbacks: Pick<CallbacksConfig, 'timeoutSeconds'>): number {
  return Math.max(60_000, 2 * callbacks.timeoutSeconds * 1000 + 10_000);
}
const FIRST_BACKOFF_MS = 1000;

/** What finishing a job queues: its callback, and for a completed `resultToObs` job the object. */
export function deliveriesFor(
  token: string,
  params: LongformParams | undefined,
  state: JobOutcome['state'],
  objectStorage: ObjectStorage | undefined,
): NewDelivery[] {
  const deliveries: NewDelivery[] = [];
  if (params?.callback !== undefined) deliveries.push({ kind: 'callback', target: params.callback });
  if (params?.resultToObs && state === 'COMPLETED' && objectStorage !== undefined) {
    deliveries.push({ kind: 'object-storage', target: `${objectStorage.resultPrefix}${token}.json` });
  }
  return deliveries;
}

/** The outcome of one attempt before it is judged: the HTTP status if one came, the error if any. */
interface Sent {
  status: number | null;
  error?: string;
}

export class ResultDeliverer implements LeasedWork<DeliveryRecord> {
  private readonly agent: Dispatcher;

  constructor(private readonly deps: DeliveryDeps) {
    this.agent = createGuardedAgent(deps.network);
  }

  claim(owner: string, leaseMs: number, now: number): Promise<DeliveryRecord | undefined> {
    return this.deps.store.claimDelivery(owner, leaseMs, now);
  }

  key(delivery: DeliveryRecord): string {
    return String(delivery.id);
  }

  logFields(delivery: DeliveryRecord): Record<string, unknown> {
    return { token: delivery.token, delivery: delivery.kind };
  }

  /** One attempt, recorded with its outcome whatever it was. */
  async process(delivery: DeliveryRecord, lease: Lease): Promise<void> {
    const log = this.deps.logger.child({ ...this.logFields(delivery), attempt: delivery.attempts + 1 });
    const started = performance.now();
    const sent = await this.send(delivery, lease.signal);
    const ms = performance.now() - started;
    const now = Date.now();
    const result = this.judge(delivery, sent, ms, now, log);
    try {
      await this.deps.store.recordAttempt(delivery.id, lease.owner, result, now);
    } catch (err) {
      log.error({ err }, 'recording a delivery attempt failed');
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Sends the job's body as it is now; never throws, a failure comes back in `error`. */
  private async send(delivery: DeliveryRecord, signal: AbortSignal): Promise<Sent> {
    try {
      const job = await this.deps.store.get(delivery.token);
      if (job === undefined) throw new Error('job no longer exists');
      const body = statusBody(job);
      if (delivery.kind === 'callback') return { status: await this.post(delivery, body, signal) };
      await this.putObject(delivery, body);
      return { status: null };
    } catch (err) {
      const answered = (err as { status?: unknown }).status;
      return { status: typeof answered === 'number' ? answered : null, error: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Delivered; or retried after a backoff that doubles per attempt; or given up once the retry would come too late. */
  private judge(delivery: DeliveryRecord, sent: Sent, ms: number, now: number, log: Logger): AttemptResult {
    const { callbacks } = this.deps;
    const { status, error } = sent;
    if (error === undefined) {
      log.info({ status, ms: Math.round(ms) }, 'result delivered');
      return { outcome: 'delivered', status, ms };
    }
    const backoff = Math.min(FIRST_BACKOFF_MS * 2 ** delivery.attempts, callbacks.maxBackoffSeconds * 1000);
    const nextAt = now + backoff;
    if (nextAt > delivery.createdAt + callbacks.retryForSeconds * 1000) {
      log.warn({ status, reason: error }, 'result delivery failed; giving up');
      return { outcome: 'gave-up', status, error, ms };
    }
    log.info({ status, reason: error, retryInMs: backoff }, 'result delivery failed; will retry');
    return { outcome: 'retry', nextAt, status, error, ms };
  }

  private async post(delivery: DeliveryRecord, body: unknown, signal: AbortSignal): Promise<number> {
    const timeoutMs = this.deps.callbacks.timeoutSeconds * 1000;
    const res = await request(delivery.target, {
      method: 'POST',
      dispatcher: this.agent,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'sori-callback',
        'x-sori-delivery-id': String(delivery.id),
        'x-sori-token': delivery.token,
      },
      body: JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const err = new Error(`receiver answered HTTP ${res.statusCode}`);
      throw Object.assign(err, { status: res.statusCode });
    }
    return res.statusCode;
  }

  private async putObject(delivery: DeliveryRecord, body: unknown): Promise<void> {
    const storage = this.deps.objectStorage;
    if (storage === undefined) throw new Error('no object storage is configured');
    await storage.putJson(delivery.target, body);
  }
}
