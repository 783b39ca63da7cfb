/**
 * How workers learn that there may be work. Claiming itself is the store's job (a lease taken
 * atomically), so a queue only has to wake workers up: in one process an event is enough. With
 * PostgreSQL, other nodes' wake-ups arrive through LISTEN/NOTIFY (postgres-notifications.ts),
 * which index.ts turns into `notify()` here. A lost wake-up costs at most one poll interval,
 * never a job.
 */
import { EventEmitter } from 'node:events';

export interface JobQueue {
  /** A job was created (or a delivery became due): wake a waiting worker. */
  notify(): Promise<void>;
  /** Resolves on a notification, after `pollMs`, or when `signal` aborts. */
  wait(pollMs: number, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export class LocalJobQueue implements JobQueue {
  private readonly events = new EventEmitter();

  constructor() {
    this.events.setMaxListeners(0);
  }

  async notify(): Promise<void> {
    this.events.emit('work');
  }

  wait(pollMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        this.events.off('work', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, pollMs);
      this.events.once('work', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  async close(): Promise<void> {
    this.events.removeAllListeners();
  }
}
