import { EngineBusyError, type Priority } from './engine.js';

/**
 * Bounded priority queue in front of a fixed number of slots (one per inference worker).
 * Streaming work runs before short requests, which run before long-form batch work; within a
 * class, first come first served. A full queue refuses at once instead of letting callers hang.
 */
const ORDER: Priority[] = ['stream', 'short', 'batch'];

interface Waiting {
  start: (slot: number) => void;
  fail: (err: unknown) => void;
}

export class PriorityScheduler {
  private readonly queues = new Map<Priority, Waiting[]>(ORDER.map((p) => [p, []]));
  private readonly freeSlots: number[];
  private waiting = 0;

  constructor(readonly slots: number, readonly queueLimit: number) {
    this.freeSlots = Array.from({ length: slots }, (_, i) => i);
  }

  get queued(): number {
    return this.waiting;
  }

  get running(): number {
    return this.slots - this.freeSlots.length;
  }

  /** Runs `task` on a free slot when its turn comes; rejects with EngineBusyError at once if full. */
  run<T>(priority: Priority, task: (slot: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    const slot = this.freeSlots.pop();
    if (slot !== undefined) return this.execute(slot, task);
    // Streaming is latency-critical and small: it may exceed the bound rather than be refused.
    if (this.waiting >= this.queueLimit && priority !== 'stream') return Promise.reject(new EngineBusyError());
    return new Promise<T>((resolve, reject) => {
      const entry: Waiting = {
        start: (s) => {
          signal?.removeEventListener('abort', onAbort);
          this.execute(s, task).then(resolve, reject);
        },
        fail: reject,
      };
      const onAbort = (): void => {
        const q = this.queues.get(priority)!;
        const i = q.indexOf(entry);
        if (i >= 0) {
          q.splice(i, 1);
          this.waiting--;
          reject(signal?.reason ?? new Error('aborted'));
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queues.get(priority)!.push(entry);
      this.waiting++;
    });
  }

  private async execute<T>(slot: number, task: (slot: number) => Promise<T>): Promise<T> {
    try {
      return await task(slot);
    } finally {
      this.release(slot);
    }
  }

  private release(slot: number): void {
    for (const p of ORDER) {
      const next = this.queues.get(p)!.shift();
      if (next) {
        this.waiting--;
        next.start(slot);
        return;
      }
    }
    this.freeSlots.push(slot);
  }

  /** Rejects everything still waiting (shutdown). */
  drain(err: Error): void {
    for (const p of ORDER) {
      for (const w of this.queues.get(p)!.splice(0)) w.fail(err);
    }
    this.waiting = 0;
  }
}
