/**
 * Slots that each claim the next item from a store and work on it, for as long as the process
 * runs. The lease is what makes this safe across processes: a claim takes it atomically, a
 * heartbeat keeps it while the work runs, and once it lapses (this process died or stalled)
 * another worker claims the item again. Long-form jobs and result deliveries both run on it; it
 * knows nothing of either.
 */
import type { Logger } from 'pino';
import { newOwnerId } from './owner.js';

/** What a worker needs to know of its items. */
export interface LeasedWork<Item> {
  /** Takes the next due item and leases it to `owner` until `now + leaseMs`; undefined when none is due. */
  claim(owner: string, leaseMs: number, now: number): Promise<Item | undefined>;
  /** Works on one claimed item to its end, settling soon after `lease.signal` aborts. */
  process(item: Item, lease: Lease): Promise<void>;
  /**
   * Extends the lease to `now + leaseMs` and records `lease.progress`; false once the lease is
   * no longer `lease.owner`'s. Without it the lease is never renewed, so the work must end well
   * within the lease the claim took.
   */
  renew?(item: Item, lease: Lease, leaseMs: number, now: number): Promise<boolean>;
  /** When the item's time is up, and what its work is aborted with then. */
  deadline?(item: Item): { at: number; error: () => Error };
  /** The item's identity, for `isRunning`. */
  key(item: Item): string;
  /** Fields that name the item in log lines. */
  logFields(item: Item): Record<string, unknown>;
}

/** One claimed item's hold, as its work sees it. */
export interface Lease {
  readonly owner: string;
  /** Aborts when the lease is lost, the deadline passes, or the worker closes. */
  readonly signal: AbortSignal;
  /**
   * The work stopped because this process gave the item up (lease lost, or closing), not because
   * the item failed: it stays unfinished, and whoever claims it next resumes it.
   */
  readonly interrupted: boolean;
  /** Recorded with each renewal (a job's 0-100, which clients poll). */
  progress: number;
}

export interface LeasedWorkerOptions {
  /** What an item is, in log lines: "job", "delivery". */
  name: string;
  slots: number;
  leaseMs: number;
  /** Resolves on a wake-up (new work may be due), after `pollMs`, or when `signal` aborts. */
  wait(pollMs: number, signal: AbortSignal): Promise<void>;
  logger: Logger;
}

const IDLE_POLL_MS = 1000;
const SLOWEST_RENEWAL_MS = 2000;
const FASTEST_RENEWAL_MS = 500;

/**
 * Renewals carry progress, so they come every 2 s even when the lease is long: a client polling
 * a short job sees it move. A third of the lease at most, so that one failed renewal does not
 * lose it.
 */
export function renewalIntervalMs(leaseMs: number): number {
  return Math.max(FASTEST_RENEWAL_MS, Math.min(SLOWEST_RENEWAL_MS, leaseMs / 3));
}

class HeldLease implements Lease {
  progress = 0;
  private lost = false;
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;

  constructor(readonly owner: string, readonly key: string, private readonly closing: AbortSignal) {}

  get interrupted(): boolean {
    return this.lost || this.closing.aborted;
  }

  abort(reason: Error): void {
    this.controller.abort(reason);
  }

  /** Another owner has the item now; only the first abort counts, so a deadline passed before stays the reason. */
  markLost(): void {
    if (this.signal.aborted) return;
    this.lost = true;
    this.controller.abort(new Error('lease lost'));
  }
}

export class LeasedWorker<Item> {
  /** Names this worker in every lease it takes (host, pid: see owner.ts). */
  readonly owner = newOwnerId();
  private readonly closing = new AbortController();
  private readonly held = new Set<HeldLease>();
  private slots: Promise<void>[] = [];

  constructor(private readonly work: LeasedWork<Item>, private readonly options: LeasedWorkerOptions) {}

  start(): void {
    for (let slot = 0; slot < this.options.slots; slot++) this.slots.push(this.runSlot(slot));
  }

  /** Stops claiming and aborts the work in progress; resolves once every slot has stopped. */
  async close(): Promise<void> {
    this.closing.abort();
    for (const lease of this.held) lease.abort(new Error('server shutting down'));
    await Promise.allSettled(this.slots);
  }

  /** Whether an item with this key is being worked on here. */
  isRunning(key: string): boolean {
    for (const lease of this.held) if (lease.key === key) return true;
    return false;
  }

  private async runSlot(slot: number): Promise<void> {
    while (!this.closing.signal.aborted) {
      const item = await this.claimNext(slot);
      if (item === undefined) await this.options.wait(IDLE_POLL_MS, this.closing.signal);
      else await this.hold(item);
    }
  }

  private async claimNext(slot: number): Promise<Item | undefined> {
    try {
      return await this.work.claim(this.owner, this.options.leaseMs, Date.now());
    } catch (err) {
      this.options.logger.error({ err, slot }, `claiming a ${this.options.name} failed`);
      return undefined;
    }
  }

  /** Works on one item under its lease; whatever the work throws, the slot goes on. */
  private async hold(item: Item): Promise<void> {
    const lease = new HeldLease(this.owner, this.work.key(item), this.closing.signal);
    this.held.add(lease);
    const heartbeat = this.startHeartbeat(item, lease);
    try {
      await this.work.process(item, lease);
    } catch (err) {
      this.options.logger.error({ err, ...this.work.logFields(item) }, `${this.options.name} failed unexpectedly`);
    } finally {
      clearInterval(heartbeat);
      this.held.delete(lease);
      // Work the item started and left behind (a job's diarization when its recognition failed)
      // stops with it instead of running on for nobody.
      lease.abort(new Error(`${this.options.name} ended`));
    }
  }

  private startHeartbeat(item: Item, lease: HeldLease): NodeJS.Timeout | undefined {
    if (this.work.renew === undefined && this.work.deadline === undefined) return undefined;
    const { leaseMs, logger } = this.options;
    const deadline = this.work.deadline?.(item);
    return setInterval(() => {
      if (deadline !== undefined && Date.now() > deadline.at) {
        lease.abort(deadline.error());
        return;
      }
      this.work.renew?.(item, lease, leaseMs, Date.now()).then(
        (held) => {
          if (!held) lease.markLost();
        },
        (err: unknown) => logger.warn({ err, ...this.work.logFields(item) }, 'lease renewal failed'),
      );
    }, renewalIntervalMs(leaseMs));
  }
}
