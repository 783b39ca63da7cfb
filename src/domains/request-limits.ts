/**
 * Per-domain request bounds on the REST routes: a token bucket for the rate of recognition
 * requests (`limits.requestsPerSecond`, `limits.requestBurst`) and a count of long-form upload
 * bodies being received at once (`limits.maxConcurrentUploads`). Both refuse before a body is
 * read. Time is passed in, so the arithmetic is tested without clocks.
 */
import type { DomainConfig, DomainLimits } from '../config.js';

export type RateDecision = { allowed: true } | { allowed: false; retryAfterS: number };

interface Bucket {
  tokens: number;
  at: number;
}

/** The bucket's size: `requestBurst`, else one second's worth of requests (at least 1). */
export function burstOf(limits: Pick<DomainLimits, 'requestsPerSecond' | 'requestBurst'>): number {
  return limits.requestBurst ?? Math.max(1, Math.ceil(limits.requestsPerSecond));
}

export class DomainRequestLimits {
  private readonly buckets = new Map<string, Bucket>();
  private readonly uploads = new Map<string, number>();

  /**
   * Takes one request from the domain's bucket at `nowMs`. Refused: whole seconds until a token
   * is back (Retry-After), at least 1. A rate of 0 never refuses.
   */
  takeRequest(domain: DomainConfig, nowMs: number): RateDecision {
    const rate = domain.limits.requestsPerSecond;
    if (!(rate > 0)) return { allowed: true };
    const burst = burstOf(domain.limits);
    const bucket = this.buckets.get(domain.name) ?? { tokens: burst, at: nowMs };
    // A clock that steps back refills nothing rather than draining the bucket.
    const elapsedS = Math.max(0, nowMs - bucket.at) / 1000;
    bucket.tokens = Math.min(burst, bucket.tokens + elapsedS * rate);
    bucket.at = nowMs;
    this.buckets.set(domain.name, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterS: Math.max(1, Math.ceil((1 - bucket.tokens) / rate)) };
  }

  /** A release function (idempotent), or undefined when the domain already receives its maximum of uploads. */
  takeUpload(domain: DomainConfig): (() => void) | undefined {
    const count = this.uploads.get(domain.name) ?? 0;
    if (count >= domain.limits.maxConcurrentUploads) return undefined;
    this.uploads.set(domain.name, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.uploads.get(domain.name) ?? 1) - 1;
      if (left > 0) this.uploads.set(domain.name, left);
      else this.uploads.delete(domain.name);
    };
  }

  /** Uploads of the domain being received now. */
  uploadsInFlight(domainName: string): number {
    return this.uploads.get(domainName) ?? 0;
  }
}
