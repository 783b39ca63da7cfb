/**
 * CPU time of process trees from /proc (Linux): every live process under the given roots, plus
 * what their exited children used (cutime/cstime), in seconds. Two readings around a phase give
 * the CPU that phase cost; a process that ends between them is counted through its parent.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: 100 on every Linux Node runs on (sysconf(_SC_CLK_TCK); Node does not expose it). */
const TICKS_PER_S = 100;

interface Stat {
  ppid: number;
  ticks: number;
}

function readStat(pid: number): Stat | null {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (comm) ": state, ppid, ... utime (14), stime (15), cutime (16), cstime (17).
    const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
  } catch {
    return null;
  }
}

/** CPU seconds used so far by the trees under `roots` (the roots included). */
export function treeCpuSeconds(roots: number[]): number {
  const stats = new Map<number, Stat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) stats.set(Number(name), s);
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
      if (roots.includes(p)) return true;
      p = stats.get(p)?.ppid ?? 0;
    }
    return false;
  };
  let ticks = 0;
  for (const [pid, s] of stats) if (inTree(pid)) ticks += s.ticks;
  return ticks / TICKS_PER_S;
}
