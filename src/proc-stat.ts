import { readFileSync } from 'node:fs';

/**
 * The fields of /proc/<pid>/stat after "pid (comm) ", state first (proc(5)'s field 3 is index 0),
 * or null when the process is gone or there is no /proc (not Linux). comm may hold spaces and
 * parentheses, so the fields start after the last ')'.
 */
export function procStat(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}
