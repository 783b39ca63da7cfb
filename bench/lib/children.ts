/**
 * Child processes started by the bench, and their cleanup. The bench runs for minutes and is
 * often interrupted; a server or reference run left behind would skew the next measurement,
 * so every child is killed on normal exit, on error and on SIGINT/SIGTERM.
 * Children get their own process group (detached) and are killed by group id, which also
 * catches anything they started themselves.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const live = new Set<ChildProcess>();
let hooked = false;

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of live) killGroup(c, 'SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\n${sig}: stopping ${live.size} child process(es)\n`);
      for (const c of live) killGroup(c, 'SIGTERM');
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

export function spawnTracked(cmd: string, args: readonly string[], opts: SpawnOptions): ChildProcess {
  hook();
  const child = spawn(cmd, args, { ...opts, detached: true });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((res) => child.once('exit', () => res()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

export interface RunOutput {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs to completion, collecting output; stderr is also echoed when `echoStderr`. */
export function runCollect(cmd: string, args: readonly string[], opts: SpawnOptions & { echoStderr?: boolean } = {}): Promise<RunOutput> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (opts.echoStderr) process.stderr.write(d);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
