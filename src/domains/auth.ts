/**
 * CLOVA REST auth: the `X-CLOVASPEECH-API-KEY` header names a domain by its secret.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { DomainConfig } from '../config.js';

export const API_KEY_HEADER = 'x-clovaspeech-api-key';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** The secret in `Authorization: Bearer <secret>` (gRPC metadata, WebSocket headers); any case of "Bearer". */
export function bearerToken(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return /^\s*bearer\s+(.+?)\s*$/i.exec(value)?.[1];
}

export class DomainAuthenticator {
  private readonly entries: ReadonlyArray<{ digest: Buffer; domain: DomainConfig }>;

  constructor(domains: readonly DomainConfig[]) {
    this.entries = domains.map((domain) => ({ digest: digest(domain.secret), domain }));
  }

  /**
   * The domain owning `key`, or undefined. Hashing both sides gives equal-length inputs for
   * timingSafeEqual, and every domain is compared (no early exit) so the time taken says
   * nothing about which secret, or how much of one, matched.
   */
  authenticate(key: string | string[] | undefined): DomainConfig | undefined {
    if (typeof key !== 'string' || key === '') return undefined;
    const presented = digest(key);
    let found: DomainConfig | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(presented, entry.digest)) found = entry.domain;
    }
    return found;
  }
}
