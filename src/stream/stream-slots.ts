/**
 * Each domain's concurrent-stream limit, shared by gRPC and WebSocket streams: a domain with a
 * limit of 15 has 15 streams in all, whichever way they arrive. `StreamSlots` counts in this
 * process (one node, SQLite); with `database.url` every node counts in PostgreSQL instead
 * (postgres-stream-slots.ts), so the limit holds across the cluster.
 */
import type { DomainConfig } from '../config.js';

/** Gives a slot back; calling it again does nothing. */
export type ReleaseSlot = () => void;

export interface StreamSlotPool {
  /** Begins whatever keeps the slots alive (a heartbeat); call once, after the store is ready. */
  start(): Promise<void>;
  /**
   * A release function, or undefined when the domain is at its limit. Rejects when the count
   * cannot be read (PostgreSQL unreachable): the stream is then refused as "try again later".
   */
  take(domain: DomainConfig): Promise<ReleaseSlot | undefined>;
  /** Gives back every slot still held (the process is stopping). */
  close(): Promise<void>;
}

export class StreamSlots implements StreamSlotPool {
  private readonly open = new Map<string, number>();

  async start(): Promise<void> {
    // Nothing to renew: the count lives and dies with this process.
  }

  async take(domain: DomainConfig): Promise<ReleaseSlot | undefined> {
    const count = this.open.get(domain.name) ?? 0;
    if (count >= domain.limits.maxConcurrentStreams) return undefined;
    this.open.set(domain.name, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.open.set(domain.name, (this.open.get(domain.name) ?? 1) - 1);
    };
  }

  async close(): Promise<void> {
    this.open.clear();
  }
}

export function tooManyStreamsMessage(domain: DomainConfig): string {
  return `Too many channels, the max channel is: ${domain.limits.maxConcurrentStreams}`;
}

/** Said to a client whose stream could not be counted (the shared store is unreachable). */
export const SLOTS_UNAVAILABLE_MESSAGE = 'Service unavailable, try again later';
