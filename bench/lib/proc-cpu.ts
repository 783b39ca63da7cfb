/**
 * CPU time of process trees from /proc (Linux): every live process under the given roots, plus
 * what their exited children used (cutime/cstime), in seconds. Two readings around a phase give
 * the CPU that phase cost; a process that ends between them is counted through its parent.
 */
import { descendants } from './server-process.js';
import { procStat } from '../../src/proc-stat.js';

/** USER_HZ: 100 on every Linux Node runs on (sysconf(_SC_CLK_TCK); Node does not expose it). */
const TICKS_PER_S = 100;

/** utime + stime + cutime + cstime of one process, in ticks; 0 once it is gone. */
function ticksOf(pid: number): number {
  const f = procStat(pid);
  // proc(5)'s utime (14), stime (15), cutime (16), cstime (17), counted from state (3) at 0.
  return f === null ? 0 : Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
}

/** CPU seconds used so far by the trees under `roots` (the roots included). */
export function treeCpuSeconds(roots: number[]): number {
  let ticks = 0;
  for (const root of roots) for (const pid of [root, ...descendants(root)]) ticks += ticksOf(pid);
  return ticks / TICKS_PER_S;
}
