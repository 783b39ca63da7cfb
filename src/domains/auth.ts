/**
 * CLOVA REST auth: the `X-CLOVASPEECH-API-KEY` header names a domain by its secret. A domain
 * may have previous secrets besides its current one, all valid, while clients move over
 * during a rotation. `AuthGate` adds the per-client throttle of repeated wrong secrets that
 * every authenticated surface (REST routes, admin, WebSocket, gRPC) goes through.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuthConfig, DomainConfig, ServerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { clientBucket, ProxyTrust } from '../net/client-address.js';
import { AuthThrottle } from './auth-throttle.js';

export const API_KEY_HEADER = 'x-clovaspeech-api-key';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** The secret in `Authorization: Bearer <secret>` (gRPC metadata, WebSocket headers); any case of "Bearer". */
export function bearerToken(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return /^\s*bearer\s+(.+?)\s*$/i.exec(value)?.[1];
}

/** Every secret a domain accepts: its current one first, then its previous ones. */
export function domainSecrets(domain: DomainConfig): string[] {
  return [domain.secret, ...(domain.previousSecrets ?? [])];
}

export interface SecretMatch {
  domain: DomainConfig;
  /** The key is one of the domain's previous secrets (a client not yet moved to the new one). */
  previous: boolean;
}

export class DomainAuthenticator {
  private readonly entries: ReadonlyArray<{ digest: Buffer; match: SecretMatch }>;

  constructor(domains: readonly DomainConfig[]) {
    this.entries = domains.flatMap((domain) =>
      domainSecrets(domain).map((secret, i) => ({ digest: digest(secret), match: { domain, previous: i > 0 } })),
    );
  }

  /**
   * The domain owning `key` and which of its secrets it is, or undefined. Hashing both sides
   * gives equal-length inputs for timingSafeEqual, and every secret of every domain is compared
   * (no early exit) so the time taken says nothing about which secret, or how much of one,
   * matched.
   */
  match(key: string | string[] | undefined): SecretMatch | undefined {
    if (typeof key !== 'string' || key === '') return undefined;
    const presented = digest(key);
    let found: SecretMatch | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(presented, entry.digest)) found = entry.match;
    }
    return found;
  }

  /** The domain owning `key`, or undefined. */
  authenticate(key: string | string[] | undefined): DomainConfig | undefined {
    return this.match(key)?.domain;
  }
}

/** Where a request comes from, as the connection shows it. */
export interface ClientOrigin {
  /** The socket's remote address. */
  peer: string | undefined;
  /** `X-Forwarded-For` as received; believed only from a trusted proxy (`server.trustProxy`). */
  forwardedFor?: string | string[];
}

/** An HTTP request's origin (fastify's request, or Node's IncomingMessage). */
export function httpOrigin(request: { socket: { remoteAddress?: string }; headers: Record<string, string | string[] | undefined> }): ClientOrigin {
  return { peer: request.socket.remoteAddress, forwardedFor: request.headers['x-forwarded-for'] };
}

/** What a throttled client is told, on every surface. */
export function throttledMessage(retryAfterSeconds: number): string {
  return `Too many failed authentications from this address; retry after ${retryAfterSeconds} s`;
}

export type AuthOutcome =
  | { ok: true; domain: DomainConfig; previousSecret: boolean; client: string }
  /** No key at all: refused, not counted (it guesses nothing). */
  | { ok: false; reason: 'missing'; client: string }
  /** A key no domain owns: refused and counted against the client. */
  | { ok: false; reason: 'invalid'; client: string }
  /** The client failed too often lately: refused without looking at the key. */
  | { ok: false; reason: 'throttled'; client: string; retryAfterSeconds: number };

export interface AuthGateOptions {
  /** Failed authentications per client and window before it is refused; 0 (default): no throttling. */
  maxFailures?: number;
  windowSeconds?: number;
  /** Clients remembered at once (least recently seen forgotten first). */
  maxAddresses?: number;
  /** Reverse proxies whose X-Forwarded-For names the client (addresses, CIDR ranges). */
  trustProxy?: readonly string[];
  /** The clock, in ms. */
  now?: () => number;
  /** Told once each time a client becomes blocked, for the log. */
  onBlocked?: (client: string, retryAfterSeconds: number) => void;
}

/** What the gate has seen since it started, for /metrics. */
export interface AuthCounts {
  /** Wrong secrets presented (each counted against its client). */
  failures: number;
  /** Attempts refused because their client was throttled. */
  throttled: number;
  /** Successful authentications with a previous secret, by domain: a rotation's progress. */
  previousSecret: ReadonlyMap<string, number>;
}

/** The whole seconds a client waits before `ms` have passed (at least 1, as Retry-After says). */
function wholeSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * Authentication as every surface does it: throttle first (a blocked client's key is not even
 * looked at), then the secret, then the count. One gate per process, shared by all surfaces, so
 * failures on one count on the others.
 */
export class AuthGate {
  private readonly secrets: DomainAuthenticator;
  private readonly throttle: AuthThrottle;
  private readonly proxies: ProxyTrust;
  private readonly onBlocked: AuthGateOptions['onBlocked'];
  private readonly counted = { failures: 0, throttled: 0, previousSecret: new Map<string, number>() };

  constructor(domains: readonly DomainConfig[], options: AuthGateOptions = {}) {
    this.secrets = new DomainAuthenticator(domains);
    this.throttle = new AuthThrottle({
      maxFailures: options.maxFailures ?? 0,
      windowMs: (options.windowSeconds ?? 60) * 1000,
      maxAddresses: options.maxAddresses ?? 10_000,
      now: options.now,
    });
    this.proxies = new ProxyTrust(options.trustProxy);
    this.onBlocked = options.onBlocked;
  }

  /** The client a connection stands for: the peer, or whom a trusted proxy forwarded. */
  client(origin: ClientOrigin): string {
    return this.proxies.clientAddress(origin.peer, origin.forwardedFor);
  }

  counts(): AuthCounts {
    return { failures: this.counted.failures, throttled: this.counted.throttled, previousSecret: new Map(this.counted.previousSecret) };
  }

  authenticate(origin: ClientOrigin, key: string | string[] | undefined): AuthOutcome {
    const client = this.client(origin);
    const bucket = clientBucket(client);
    const wait = this.throttle.blockedFor(bucket);
    if (wait !== undefined) {
      this.counted.throttled++;
      return { ok: false, reason: 'throttled', client, retryAfterSeconds: wholeSeconds(wait) };
    }
    if (key === undefined || key === '') return { ok: false, reason: 'missing', client };
    const match = this.secrets.match(key);
    if (match !== undefined) {
      if (match.previous) this.counted.previousSecret.set(match.domain.name, (this.counted.previousSecret.get(match.domain.name) ?? 0) + 1);
      return { ok: true, domain: match.domain, previousSecret: match.previous, client };
    }
    this.counted.failures++;
    const blocked = this.throttle.fail(bucket);
    if (blocked !== undefined) this.onBlocked?.(client, wholeSeconds(blocked));
    return { ok: false, reason: 'invalid', client };
  }
}

/**
 * The process's gate as configured (`auth`, `server.trustProxy`), logging a warning each time a
 * client becomes blocked. Build one per process and hand it to every surface.
 */
export function configuredAuthGate(
  config: { domains: readonly DomainConfig[]; auth: AuthConfig; server: Pick<ServerConfig, 'trustProxy'> },
  logger: Pick<Logger, 'warn'>,
): AuthGate {
  return new AuthGate(config.domains, {
    ...config.auth,
    trustProxy: config.server.trustProxy,
    onBlocked: (client, retryAfterSeconds) =>
      logger.warn(
        { client, failures: config.auth.maxFailures, windowSeconds: config.auth.windowSeconds, retryAfterSeconds },
        'client throttled: too many failed authentications',
      ),
  });
}
