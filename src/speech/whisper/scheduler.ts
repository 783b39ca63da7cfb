import { EngineBusyError, PRIORITIES, type Priority } from '../engine.js';

/**
 * Bounded queue in front of the inference workers. Each worker takes at most `batch` requests of
 * each class at once (stream finals, partials, short requests, batch windows), whose decoder
 * steps it runs as one batch (step-batcher.ts); inside the worker a RunGate lets the most urgent
 * class run its model steps first. So a stream's final never waits
 * behind a 30 s batch window, only behind the model run in progress. Within a class, first come
 * first served. A full queue refuses at once instead of letting callers hang.
 */
interface Waiting {
  start: (slot: number) => void;
  fail: (err: unknown) => void;
}

export class PriorityScheduler {
  private readonly queues = new Map<Priority, Waiting[]>(PRIORITIES.map((p) => [p, []]));
  /** Per worker, how many requests of each class it is running now. */
  private readonly busy: Map<Priority, number>[];
  private waiting = 0;
  private runningNow = 0;

  constructor(readonly slots: number, readonly queueLimit: number, readonly batch = 1) {
    this.busy = Array.from({ length: slots }, () => new Map<Priority, number>());
  }

  get queued(): number {
    return this.waiting;
  }

  get running(): number {
    return this.runningNow;
  }

  /** Runs `task` on a worker when its turn comes; rejects with EngineBusyError at once if full. */
  run<T>(priority: Priority, task: (slot: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    const slot = this.pick(priority);
    if (slot !== undefined) return this.execute(slot, priority, task);
    // Stream finals are latency-critical and small: they may exceed the bound rather than be refused.
    if (this.waiting >= this.queueLimit && priority !== 'stream') return Promise.reject(new EngineBusyError());
    return new Promise<T>((resolve, reject) => {
      const entry: Waiting = {
        start: (s) => {
          signal?.removeEventListener('abort', onAbort);
          this.execute(s, priority, task).then(resolve, reject);
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

  /**
   * A worker free for this class, preferring one where nothing more urgent runs (the request
   * starts at once there), then the least loaded.
   */
  private pick(priority: Priority): number | undefined {
    const rank = PRIORITIES.indexOf(priority);
    let best: number | undefined;
    let bestKey = Infinity;
    this.busy.forEach((classes, slot) => {
      const same = classes.get(priority) ?? 0;
      if (same >= this.batch) return;
      let ahead = 0;
      let total = 0;
      for (const [c, n] of classes) {
        total += n;
        if (PRIORITIES.indexOf(c) < rank) ahead += n;
      }
      const key = ahead * 10_000 + total;
      if (key < bestKey) { bestKey = key; best = slot; }
    });
    return best;
  }

  private async execute<T>(slot: number, priority: Priority, task: (slot: number) => Promise<T>): Promise<T> {
    const classes = this.busy[slot];
    classes.set(priority, (classes.get(priority) ?? 0) + 1);
    this.runningNow++;
    try {
      return await task(slot);
    } finally {
      classes.set(priority, classes.get(priority)! - 1);
      this.runningNow--;
      const next = this.queues.get(priority)!.shift();
      if (next) {
        this.waiting--;
        next.start(slot);
      }
    }
  }

  /** Rejects everything still waiting (shutdown). */
  drain(err: Error): void {
    for (const p of PRIORITIES) {
      for (const w of this.queues.get(p)!.splice(0)) w.fail(err);
    }
    this.waiting = 0;
  }
}
