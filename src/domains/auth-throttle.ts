/**
 * Throttling of repeated wrong secrets per client: after `maxFailures` failed authentications
 * from one client within `windowMs` (the window opens at its first failure), that client's
 * further attempts are refused, without their secret being checked, until the window ends.
 * Then it starts afresh. So a client guesses at most `maxFailures` secrets per window.
 *
 * Only failures count, and only the failing client's: a success resets nothing, neither its own
 * count (a client holding one domain's secret could otherwise reset its count between guesses at
 * another domain's) nor anyone else's. Refused attempts do not count either, so a block ends
 * when the window it was earned in ends, however often the client knocks meanwhile.
 *
 * Memory is bounded: at most `maxAddresses` clients are remembered, the least recently seen
 * forgotten first. A blocked client that keeps knocking stays recent, so it is the last to go.
 */
import { LruCache } from '../speech/lru-cache.js';

export interface AuthThrottleOptions {
  /** Failed authentications allowed per client and window; 0 turns throttling off. */
  maxFailures: number;
  windowMs: number;
  /** Clients remembered at once. */
  maxAddresses: number;
  /** The clock, in ms (tests pass their own). */
  now?: () => number;
}

interface Window {
  /** When the client's first failure of this window happened. */
  start: number;
  failures: number;
}

export class AuthThrottle {
  private readonly windows: LruCache<string, Window>;
  private readonly now: () => number;

  constructor(private readonly options: AuthThrottleOptions) {
    if (!(options.windowMs > 0)) throw new RangeError('the auth throttle window must be positive');
    this.windows = new LruCache(options.maxFailures > 0 ? options.maxAddresses : 0);
    this.now = options.now ?? Date.now;
  }

  /** The client's window if it is still running; a finished one is forgotten. */
  private current(client: string, now: number): Window | undefined {
    const window = this.windows.get(client);
    if (window !== undefined && now - window.start >= this.options.windowMs) {
      this.windows.delete(client);
      return undefined;
    }
    return window;
  }

  /** Milliseconds until `client` may try again, or undefined when it may try now. */
  blockedFor(client: string): number | undefined {
    if (this.options.maxFailures <= 0) return undefined;
    const now = this.now();
    const window = this.current(client, now);
    if (window === undefined || window.failures < this.options.maxFailures) return undefined;
    return window.start + this.options.windowMs - now;
  }

  /**
   * Counts a failed authentication of `client`. Returns the milliseconds it is now blocked for
   * when this failure is the one that blocks it (for a single log line), else undefined.
   */
  fail(client: string): number | undefined {
    if (this.options.maxFailures <= 0) return undefined;
    const now = this.now();
    const window = this.current(client, now) ?? { start: now, failures: 0 };
    window.failures++;
    this.windows.set(client, window);
    return window.failures === this.options.maxFailures ? window.start + this.options.windowMs - now : undefined;
  }

  /** Clients remembered now (finished windows included until they are next looked at or evicted). */
  get tracked(): number {
    return this.windows.size;
  }
}
