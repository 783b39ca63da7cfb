/**
 * The caller's side of request/reply with an inference worker (a worker thread or a child
 * process): the table of requests in flight by id. Each executor keeps its own transport,
 * handshake, error classes and restart policy; this is only the bookkeeping they share:
 *
 *   const { id, reply } = calls.open();       // before sending the request
 *   worker.postMessage({ ...request, id });
 *   // on the worker's reply:   calls.resolve(m.id, value) or calls.reject(m.id, err)
 *   // on exit, crash or close: calls.rejectAll(err)
 *
 * Replies for ids no longer in the table (already settled, or rejected by rejectAll) are ignored.
 */

export interface PendingCallsHooks {
  /** The table went from empty to one request: e.g. ref() the worker so the process waits for it. */
  onBusy?: () => void;
  /** The table became empty: e.g. unref() the worker so an idle one does not keep the process alive. */
  onIdle?: () => void;
}

export interface OpenOptions {
  /**
   * The caller's cancellation. When it aborts while the request is in flight, `onAbort(id)` runs
   * (once) to tell the worker; the request stays in the table until the worker replies. The
   * listener is removed as soon as the request settles. A signal already aborted when the
   * request opens does not call onAbort: check it before opening.
   */
  signal?: AbortSignal;
  onAbort?: (id: number) => void;
}

interface Entry<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

/** Requests in flight to one worker (or to a succession of restarted ones), by id. */
export class PendingCalls<T> {
  private readonly calls = new Map<number, Entry<T>>();
  private nextId = 1;

  constructor(private readonly hooks: PendingCallsHooks = {}) {}

  /** Requests in flight. */
  get size(): number {
    return this.calls.size;
  }

  /** Registers a new request: its id (1, 2, 3, …) to send with it, and the promise of its reply. */
  open(opts: OpenOptions = {}): { id: number; reply: Promise<T> } {
    const id = this.nextId++;
    const { signal, onAbort } = opts;
    const listener = signal && onAbort ? (): void => onAbort(id) : undefined;
    const reply = new Promise<T>((resolve, reject) => {
      const cleanup = (): void => {
        if (listener) signal?.removeEventListener('abort', listener);
      };
      this.calls.set(id, {
        resolve: (v) => { cleanup(); resolve(v); },
        reject: (e) => { cleanup(); reject(e); },
      });
    });
    if (listener) signal?.addEventListener('abort', listener, { once: true });
    if (this.calls.size === 1) this.hooks.onBusy?.();
    return { id, reply };
  }

  /** Settles request `id` with the worker's answer; false if it is not in flight. */
  resolve(id: number, value: T): boolean {
    const e = this.take(id);
    e?.resolve(value);
    return e !== undefined;
  }

  /** Fails request `id`; false if it is not in flight. */
  reject(id: number, err: Error): boolean {
    const e = this.take(id);
    e?.reject(err);
    return e !== undefined;
  }

  /** Fails every request in flight (the worker exited, crashed or is being closed). */
  rejectAll(err: Error): void {
    const all = [...this.calls.values()];
    this.calls.clear();
    if (all.length > 0) this.hooks.onIdle?.();
    for (const e of all) e.reject(err);
  }

  private take(id: number): Entry<T> | undefined {
    const e = this.calls.get(id);
    if (!e) return undefined;
    this.calls.delete(id);
    if (this.calls.size === 0) this.hooks.onIdle?.();
    return e;
  }
}
