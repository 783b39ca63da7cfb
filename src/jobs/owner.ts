/**
 * Lease owner ids: `host:pid:nonce`. A restarted server on the same host can tell at once that
 * leases held by a dead pid are abandoned (no waiting for them to expire); leases of other
 * hosts are left to expire, since their processes cannot be checked from here.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export function newOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
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

/** True when `owner` was a process on this host that no longer runs. */
export function isDeadLocalOwner(owner: string, self: string): boolean {
  if (owner === self) return false;
  const [host, pidText] = owner.split(':');
  if (host !== hostname()) return false;
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  return pid !== process.pid && !processAlive(pid);
}
