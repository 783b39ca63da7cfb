/**
 * `scripts/cluster.sh` driven from TypeScript (bench:cluster and the cluster tests), and the
 * ports it needs: node I listens on SORI_PORT + I - 1, so a run of consecutive ports must be free.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './paths.js';
import { freePort } from './server-process.js';

export const CLUSTER_SH = resolve(REPO_ROOT, 'scripts', 'cluster.sh');

const run = promisify(execFile);

/** Runs `cluster.sh args...` with `env`; its stdout, or an error carrying its stderr. */
export async function runClusterSh(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 600_000): Promise<string> {
  try {
    const { stdout } = await run('bash', [CLUSTER_SH, ...args], { env, timeout: timeoutMs });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`cluster.sh ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Whether nothing listens on `port` of 127.0.0.1 now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = createServer();
    s.once('error', () => r(false));
    s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
  });
}

/** A port p with p + 1 free too (two nodes' worth). */
export async function twoFreePorts(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p < 65535 && (await portFree(p + 1))) return p;
  }
}
