/**
 * An undici Agent that will only open connections the network policy allows: the one HTTP
 * client for every URL a caller hands the server (media downloads, result callbacks).
 *
 * The check sits in the connect step, on the address about to be connected to, after DNS.
 * Checking the hostname up front and letting the HTTP client resolve it again later would leave
 * a DNS-rebinding window (public address at check time, 127.0.0.1 at connect time); here the
 * address checked is the address used. Node's net.connect skips the lookup hook for IP
 * literals, so those are checked in the connector before it is called.
 *
 * Connections are made per hop, so redirects followed by the caller (redirect: 'manual') are
 * checked too; pooled keep-alive sockets were checked when they were opened.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { describeRefusal, isAddressAllowed, restrictedRange, validateAllowList, type NetworkPolicy } from './address-policy.js';

export class AddressRefusedError extends Error {
  readonly code = 'ERR_ADDRESS_REFUSED';
  /** The refused address, e.g. '127.0.0.1'. */
  readonly address: string;
  /** The host as named in the URL. */
  readonly host: string;
  /** Why, e.g. 'loopback' or 'private, IPv4-mapped'. */
  readonly range: string;
  constructor(address: string, host: string) {
    super(describeRefusal(address, host));
    this.name = 'AddressRefusedError';
    this.address = address;
    this.host = host;
    this.range = restrictedRange(address) ?? 'not allowed';
  }
}

/** Every address `hostname` has, like dns.lookup with `all: true`. Tests inject their own. */
export type Resolver = (hostname: string, options: { family: 0 | 4 | 6; hints?: number }) => Promise<LookupAddress[]>;

export interface GuardedAgentOptions extends Omit<Agent.Options, 'connect'> {
  resolve?: Resolver;
  /** Limit on DNS + TCP + TLS for one connection (undici's default: 10000). */
  connectTimeoutMs?: number;
}

/** Throws RangeError at once for a malformed allow list, so a bad config fails at boot. */
export function createGuardedAgent(policy: NetworkPolicy, opts: GuardedAgentOptions = {}): Agent {
  const { resolve = systemResolve, connectTimeoutMs, ...agentOptions } = opts;
  validateAllowList(policy.allowList);
  const connectResolved = buildConnector({ lookup: guardedLookup(policy, resolve), timeout: connectTimeoutMs });
  const connect: buildConnector.connector = (options, callback) => {
    const { hostname } = options;
    if (isIP(hostname) !== 0 && !isAddressAllowed(hostname, hostname, policy)) {
      callback(new AddressRefusedError(hostname, hostname), null);
      return;
    }
    connectResolved(options, callback);
  };
  return new Agent({ ...agentOptions, connect });
}

/**
 * A net.connect `lookup` that resolves every address and hands on only the allowed ones, so a
 * name with both public and private addresses connects to a public one and never to the rest.
 * When none is allowed it fails with AddressRefusedError naming the first.
 */
export function guardedLookup(policy: NetworkPolicy, resolve: Resolver = systemResolve): LookupFunction {
  return (hostname, options, callback) => {
    const family = wantedFamily(options.family);
    resolve(hostname, { family, hints: options.hints }).then(
      (found) => {
        const candidates = found.filter((a) => family === 0 || a.family === family);
        const allowed = candidates.filter((a) => isAddressAllowed(a.address, hostname, policy));
        if (allowed.length === 0) {
          const error = candidates.length > 0 ? new AddressRefusedError(candidates[0].address, hostname) : notFound(hostname);
          callback(error, '');
        } else if (options.all) {
          callback(null, allowed);
        } else {
          callback(null, allowed[0].address, allowed[0].family);
        }
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}

function systemResolve(hostname: string, options: { family: 0 | 4 | 6; hints?: number }): Promise<LookupAddress[]> {
  return dnsLookup(hostname, { all: true, family: options.family, hints: options.hints });
}

function wantedFamily(family: LookupOptions['family']): 0 | 4 | 6 {
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return 0;
}

/** What dns.lookup itself reports when a name has no address (of the family asked for). */
function notFound(hostname: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
  error.code = 'ENOTFOUND';
  error.syscall = 'getaddrinfo';
  return error;
}
