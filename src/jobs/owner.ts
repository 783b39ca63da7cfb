/**
 * Lease owner ids: `host:pid:s<start>.n<pid namespace>.<nonce>`. A restarted server can tell at
 * once that leases held by a dead process it can see are abandoned (no waiting for them to
 * expire); leases of processes it cannot see are left to expire.
 *
 * "Can see" means the same host and the same pid namespace: containers sharing a hostname (host
 * networking) each number their processes from 1, so a pid in another container's id says
 * nothing here, and a restarted container is a new namespace (its node waits out its dead
 * predecessor's leases; another node may take them first). Within one namespace, the start time
 * tells a dead owner from a new process that got its pid.
 */
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { procStat } from '../proc-stat.js';

/** Start time of a running process (Linux: clock ticks since boot), or null (none, or no /proc). */
export function processStart(pid: number): string | null {
  // proc(5)'s field 22, the 20th after "pid (comm) ".
  return procStat(pid)?.[19] ?? null;
}

/** This process's pid namespace (its inode), or '' where /proc has none. */
function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '';
  } catch {
    return '';
  }
}

const OWN_NAMESPACE = pidNamespace();

export function newOwnerId(): string {
  return `${hostname()}:${process.pid}:s${processStart(process.pid) ?? 0}.n${OWN_NAMESPACE}.${randomBytes(4).toString('hex')}`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when `owner` was a process this one can see (same host, same pid namespace) that no longer runs. */
export function isDeadLocalOwner(owner: string, self: string): boolean {
  if (owner === self) return false;
  const [host, pidText, nonce = ''] = owner.split(':');
  if (host !== hostname()) return false;
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  const marks = /^s(\d+)\.n(\d*)\./.exec(nonce);
  // An id from before start times and namespaces, or from a system without /proc (macOS): the
  // pid alone, never this process's own.
  if (marks === null || (marks[1] === '0' && marks[2] === '' && OWN_NAMESPACE === '')) {
    return pid !== process.pid && !processAlive(pid);
  }
  const [, start, namespace] = marks;
  if (namespace !== OWN_NAMESPACE || namespace === '' || start === '0') return false;
  return processStart(pid) !== start;
}
