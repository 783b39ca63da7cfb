/**
 * Who is on the other end of a connection, for per-client decisions (auth throttling): the
 * socket's peer address, or, when that peer is a reverse proxy the operator trusts
 * (`server.trustProxy`), the address the proxy put in `X-Forwarded-For`.
 *
 * X-Forwarded-For is read from the right, as proxy-addr (Express, fastify) does: each proxy
 * appends the address it received the request from, so the rightmost entries are the ones our
 * own proxies wrote. The walk goes left while the address in hand is a trusted proxy and stops
 * at the first one that is not: that is the client. Entries further left were written by the
 * client itself and are never believed. With no trusted proxy the header is ignored entirely.
 */
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Cidr = [Address, number];

/** Parses IPv4 or IPv6 text (brackets and a zone allowed); IPv4-mapped IPv6 becomes IPv4. */
function parseIp(text: string): Address | undefined {
  let bare = text.trim();
  if (bare.startsWith('[') && bare.endsWith(']')) bare = bare.slice(1, -1);
  bare = bare.replace(/%.*$/, '');
  // ipaddr.js reads IPv4 like inet_aton ("10.1", octal "010.0.0.1"): only plain dotted quads here.
  if (ipaddr.IPv4.isValid(bare) && (!ipaddr.IPv4.isValidFourPartDecimal(bare) || /(^|\.)0\d/.test(bare))) return undefined;
  if (!ipaddr.isValid(bare)) return undefined;
  const addr = ipaddr.parse(bare);
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
}

function parseCidr(entry: string): Cidr | undefined {
  const [addressText, bitsText, ...extra] = entry.trim().split('/');
  if (extra.length > 0) return undefined;
  const addr = parseIp(addressText);
  if (addr === undefined) return undefined;
  const width = addr.kind() === 'ipv4' ? 32 : 128;
  let bits = bitsText === undefined ? width : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  // ::ffff:10.0.0.0/104 was read as 10.0.0.0: its prefix counts IPv4 bits from here on.
  if (addr.kind() === 'ipv4' && addressText.includes(':') && bitsText !== undefined) bits -= 96;
  if (!(bits >= 0 && bits <= width)) return undefined;
  return [addr, bits];
}

/** Throws RangeError naming the first entry that is not an IP address or a CIDR range. */
export function validateTrustedProxies(entries: readonly string[]): void {
  for (const entry of entries) {
    if (parseCidr(entry) === undefined) throw new RangeError(`"${entry}" is not an IP address or a CIDR range`);
  }
}

export class ProxyTrust {
  private readonly ranges: Cidr[];

  /** `trusted`: addresses and CIDR ranges of the reverse proxies in front of the server. */
  constructor(trusted: readonly string[] = []) {
    validateTrustedProxies(trusted);
    this.ranges = trusted.map((t) => parseCidr(t) as Cidr);
  }

  private trusts(addr: Address): boolean {
    return this.ranges.some(([net, bits]) => addr.kind() === net.kind() && addr.match(net, bits));
  }

  /**
   * The client's address in canonical text (IPv4 dotted, IPv6 RFC 5952), or 'unknown' when the
   * socket has none (it closed already). `forwardedFor`: the X-Forwarded-For header(s) as received.
   */
  clientAddress(peer: string | undefined, forwardedFor?: string | readonly string[]): string {
    let current = peer === undefined ? undefined : parseIp(peer);
    if (current === undefined) return peer === undefined || peer === '' ? 'unknown' : peer;
    if (this.ranges.length === 0 || forwardedFor === undefined) return current.toString();
    const hops = (typeof forwardedFor === 'string' ? [forwardedFor] : forwardedFor).join(',').split(',').reverse();
    for (const hop of hops) {
      if (!this.trusts(current)) break;
      const next = parseIp(hop);
      // A malformed entry ends the walk: what lies beyond it cannot be attributed to anyone.
      if (next === undefined) break;
      current = next;
    }
    return current.toString();
  }
}

/**
 * The bucket an address is counted in: an IPv4 address on its own, an IPv6 address by its /64
 * (one subscriber's allocation: a host picks any of its 2^64 addresses at will, so counting them
 * one by one would count nothing).
 */
export function clientBucket(address: string): string {
  const addr = parseIp(address);
  if (addr === undefined || addr.kind() === 'ipv4') return addr?.toString() ?? address;
  const parts = (addr as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`;
}
