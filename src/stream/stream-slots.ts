/**
 * Each domain's concurrent-stream limit, shared by gRPC and WebSocket streams: a domain with a
 * limit of 15 has 15 streams in all, whichever way they arrive.
 */
import type { DomainConfig } from '../config.js';

export class StreamSlots {
  private readonly open = new Map<string, number>();

  /** A release function, or undefined when the domain is at its limit. */
  take(domain: DomainConfig): (() => void) | undefined {
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
}

export function tooManyStreamsMessage(domain: DomainConfig): string {
  return `Too many channels, the max channel is: ${domain.limits.maxConcurrentStreams}`;
}
