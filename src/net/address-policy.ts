/**
 * Decides which IP addresses the server may open connections to on a client's behalf (media
 * URLs to download, callback URLs to POST results to). Without this, anyone who can call the
 * API could make the server fetch its own admin ports, the cloud metadata service at
 * 169.254.169.254 or anything else on the private network: server-side request forgery.
 *
 * The rule is default-deny: only public unicast addresses are allowed, every special-purpose
 * range ipaddr.js knows (and any it adds later) is refused, unless the operator opts out with
 * `allowPrivate` or names the host, address or range in `allowList`. IPv6 forms that carry an
 * IPv4 address (mapped, translated, NAT64, 6to4) are judged by the IPv4 address inside, so
 * ::ffff:127.0.0.1 is loopback like 127.0.0.1.
 *
 * This module only classifies; guarded-agent.ts applies it to the address actually connected to.
 */
import ipaddr from 'ipaddr.js';

export interface NetworkPolicy {
  /** Allow every address, private or not: for servers that only talk to trusted clients. */
  allowPrivate: boolean;
  /**
   * Hostnames (exact, case-insensitive, e.g. `media.internal`), IP addresses (`::1`) or CIDR
   * ranges (`10.1.2.0/24`) allowed even though they are private. A hostname entry allows every
   * address that name resolves to.
   */
  allowList: readonly string[];
}

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;
type Address = IPv4 | IPv6;
type Cidr = [Address, number];

interface CompiledAllowList {
  hosts: Set<string>;
  ranges: Cidr[];
}

/** Words for describeRefusal; a range missing here is still refused, under its ipaddr.js name. */
const RANGE_LABELS: Record<string, string> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT',
  private: 'private',
  reserved: 'reserved',
  benchmarking: 'benchmarking',
  amt: 'AMT relay anycast',
  as112: 'AS112 DNS sink',
  as112v6: 'AS112 DNS sink',
  uniqueLocal: 'unique-local',
  deprecatedSiteLocal: 'site-local',
  discard: 'discard-only',
  teredo: 'Teredo tunnel',
  orchid2: 'ORCHID',
  deprecatedOrchid: 'ORCHID',
  droneRemoteIdProtocolEntityTags: 'drone remote ID',
  segmentRouting: 'segment routing',
};

/** IPv6 ranges whose last 32 bits are an IPv4 address, with the name used in messages. */
const V4_IN_LAST_32_BITS: Record<string, string> = {
  ipv4Mapped: 'IPv4-mapped',
  rfc6145: 'IPv4-translated',
};

const compiled = new WeakMap<readonly string[], CompiledAllowList>();

/**
 * Why `ip` is refused when nothing allows it explicitly, e.g. 'loopback' or
 * 'loopback, IPv4-mapped'; undefined for a public unicast address. Unparseable input is refused.
 */
export function restrictedRange(ip: string): string | undefined {
  let addr: Address;
  try {
    addr = ipaddr.parse(ipText(ip));
  } catch {
    return 'not an IP address';
  }
  return addr.kind() === 'ipv4' ? v4Restriction(addr as IPv4) : v6Restriction(addr as IPv6);
}

/**
 * True when the server may connect to `ip`, reached as `host` (the name in the URL, or the
 * address itself for an IP literal). Throws RangeError if the allow list has a malformed entry.
 */
export function isAddressAllowed(ip: string, host: string, policy: NetworkPolicy): boolean {
  if (policy.allowPrivate) return true;
  if (restrictedRange(ip) === undefined) return true;
  const allow = compileAllowList(policy.allowList);
  if (allow.hosts.has(normalizeHost(host))) return true;
  const addr = parseAddress(ip);
  return addr !== undefined && allow.ranges.some((range) => inRange(addr, range));
}

/** The message for a refused connection; names the remedy, since the operator is who reads it. */
export function describeRefusal(ip: string, host: string): string {
  const range = restrictedRange(ip) ?? 'not allowed';
  const bareHost = normalizeHost(host);
  const ofHost = bareHost === normalizeHost(ip) ? '' : ` of host ${bareHost}`;
  return `address ${stripBrackets(ip)} (${range})${ofHost} is not allowed; add it to network.allowList to permit it`;
}

/** Throws RangeError naming the first entry that is neither a hostname, an IP nor a CIDR range. */
export function validateAllowList(entries: readonly string[]): void {
  compileAllowList(entries);
}

function compileAllowList(entries: readonly string[]): CompiledAllowList {
  let result = compiled.get(entries);
  if (result) return result;
  result = { hosts: new Set(), ranges: [] };
  for (const raw of entries) {
    const entry = raw.trim();
    const range = parseRange(entry);
    if (range) result.ranges.push(range);
    else if (isHostname(entry)) result.hosts.add(normalizeHost(entry));
    else throw new RangeError(`network.allowList entry "${raw}" is not a hostname, an IP address or a CIDR range`);
  }
  compiled.set(entries, result);
  return result;
}

function parseRange(entry: string): Cidr | undefined {
  const [addressText, prefixText, ...extra] = entry.split('/');
  const address = ipText(addressText);
  if (extra.length > 0 || !ipaddr.isValid(address) || !strictV4(address)) return undefined;
  const addr = ipaddr.parse(address);
  const width = addr.kind() === 'ipv4' ? 32 : 128;
  const bits = prefixText === undefined ? width : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(bits >= 0 && bits <= width)) return undefined;
  // So an entry written as ::ffff:10.0.0.0/104 also matches 10.0.0.1 as lookup returns it.
  if (addr.kind() === 'ipv6' && (addr as IPv6).isIPv4MappedAddress() && bits >= 96) {
    return [(addr as IPv6).toIPv4Address(), bits - 96];
  }
  return [addr, bits];
}

/**
 * ipaddr.js reads IPv4 like inet_aton ("10.1" is 10.0.0.1, "010.0.0.1" is octal); an allow list
 * entry meaning something other than what it looks like is worse than one rejected at boot.
 */
function strictV4(text: string): boolean {
  return !ipaddr.IPv4.isValid(text) || (ipaddr.IPv4.isValidFourPartDecimal(text) && !/(^|\.)0\d/.test(text));
}

function isHostname(entry: string): boolean {
  // Digits and dots only would be an IPv4 address, which parseRange already refused as malformed.
  return /^[a-z0-9_]([a-z0-9_.-]{0,251}[a-z0-9_])?\.?$/i.test(entry) && !/^[\d.]+$/.test(entry);
}

/** Matching always sees IPv4 as IPv4, however the address was written. */
function parseAddress(ip: string): Address | undefined {
  try {
    const addr = ipaddr.parse(ipText(ip));
    return addr.kind() === 'ipv6' && (addr as IPv6).isIPv4MappedAddress() ? (addr as IPv6).toIPv4Address() : addr;
  } catch {
    return undefined;
  }
}

function inRange(addr: Address, [network, bits]: Cidr): boolean {
  return addr.kind() === network.kind() && addr.match(network, bits);
}

function v4Restriction(addr: IPv4): string | undefined {
  const range = addr.range();
  return range === 'unicast' ? undefined : RANGE_LABELS[range] ?? range;
}

function v6Restriction(addr: IPv6): string | undefined {
  const range = addr.range();
  if (range === 'unicast') {
    // ::a.b.c.d, the deprecated IPv4-compatible form: nothing legitimate serves on it any more.
    if (addr.parts.slice(0, 6).every((part) => part === 0)) {
      return `${v4Restriction(lastV4(addr)) ?? 'public'}, IPv4-compatible (deprecated)`;
    }
    return undefined;
  }
  const embedding = V4_IN_LAST_32_BITS[range];
  if (embedding) return embedded(lastV4(addr), embedding);
  if (range === 'rfc6052') {
    // 64:ff9b::/96 is the well-known NAT64 prefix; 64:ff9b:1::/48 is for local networks only.
    return addr.parts[2] === 0 && addr.parts[3] === 0 && addr.parts[4] === 0 && addr.parts[5] === 0
      ? embedded(lastV4(addr), 'NAT64')
      : 'local-use NAT64';
  }
  if (range === '6to4') return embedded(v4FromParts(addr.parts[1], addr.parts[2]), '6to4');
  return RANGE_LABELS[range] ?? range;
}

function embedded(v4: IPv4, form: string): string | undefined {
  const restriction = v4Restriction(v4);
  return restriction === undefined ? undefined : `${restriction}, ${form}`;
}

function lastV4(addr: IPv6): IPv4 {
  return v4FromParts(addr.parts[6], addr.parts[7]);
}

function v4FromParts(high: number, low: number): IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/**
 * An address as ipaddr.js should read it. It takes ::a.b.c.d (IPv4-compatible) to mean
 * ::ffff:a.b.c.d (IPv4-mapped); writing the dotted tail in hex keeps the address what it is.
 */
function ipText(text: string): string {
  const bare = stripBrackets(text);
  const dotted = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(%.*)?$/.exec(bare);
  if (!dotted) return bare;
  const [a, b, c, d] = dotted.slice(2, 6).map(Number);
  if (![a, b, c, d].every((octet) => octet <= 255)) return bare;
  return `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}${dotted[6] ?? ''}`;
}

function stripBrackets(text: string): string {
  return text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
}

/** URL hosts arrive lowercased, perhaps bracketed or with the root's trailing dot. */
function normalizeHost(host: string): string {
  return stripBrackets(host).toLowerCase().replace(/\.$/, '');
}
