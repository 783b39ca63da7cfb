/**
 * The real server as a child process (`node --import tsx src/main.ts`, or the built
 * dist/main.js), as users run it, with its log in a file and its memory read from /proc.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { spawnTracked, stopChild } from './children.js';
import { REPO_ROOT } from './paths.js';

export interface ServerOptions {
  apiKey: string;
  modelsDir: string;
  /** Extra SORI_* settings (threads, parallel, queue limit, beam). */
  env: Record<string, string>;
  logPath: string;
  /** Repo-relative entry point; .ts files run through tsx. Default src/main.ts. */
  entry?: string;
  readyTimeoutMs?: number;
}

export interface ServerHandle {
  pid: number;
  port: number;
  baseUrl: string;
  logPath: string;
  /** SORI_* environment the server was started with. */
  env: Record<string, string>;
  /** VmRSS / VmHWM in MB from /proc/<pid>/status; null once it is gone or off Linux. */
  memory(): { rssMb: number; peakMb: number } | null;
  stop(): Promise<void>;
}

/** Asks the kernel for a free port; SORI_PORT=0 is not supported by the server. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export function procMemory(pid: number): { rssMb: number; peakMb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

export async function startServer(opts: ServerOptions): Promise<ServerHandle> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'sori-bench-data-'));
  const env: Record<string, string> = {
    SORI_PORT: String(port),
    SORI_API_KEY: opts.apiKey,
    SORI_MODELS_DIR: opts.modelsDir,
    SORI_DATA_DIR: dataDir,
    ...opts.env,
  };
  const logFd = openSync(opts.logPath, 'w');
  let child: ChildProcess;
  try {
    const entry = opts.entry ?? 'src/main.ts';
    const args = entry.endsWith('.ts') ? ['--import', 'tsx', entry] : [entry];
    child = spawnTracked(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', logFd, logFd],
    });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  const cleanup = async () => {
    await stopChild(child);
    rmSync(dataDir, { recursive: true, force: true });
  };
  if (pid === undefined) {
    await cleanup();
    throw new Error('could not start the server');
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  const handle: ServerHandle = {
    pid,
    port,
    baseUrl,
    logPath: opts.logPath,
    env,
    memory: () => procMemory(pid),
    stop: cleanup,
  };
  try {
    await waitHealthy(child, baseUrl, opts.readyTimeoutMs ?? 300_000, opts.logPath);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return handle;
}

async function waitHealthy(child: ChildProcess, baseUrl: string, timeoutMs: number, logPath: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const logTail = () => {
    try {
      return readFileSync(logPath, 'utf8').slice(-3000);
    } catch {
      return '';
    }
  };
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before /healthz said ok; log ${logPath}:\n${logTail()}`);
    }
    try {
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      const body = await res.text();
      if (res.status === 200) return;
      last = `${res.status} ${body}`;
      // "error" is final (the engine failed to load): no point waiting out the timeout.
      if (/"status"\s*:\s*"error"/.test(body)) throw new Error(`server unhealthy: ${body}`);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('server unhealthy')) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`server not healthy after ${timeoutMs / 1000} s (last: ${last}); log ${logPath}:\n${logTail()}`);
}
