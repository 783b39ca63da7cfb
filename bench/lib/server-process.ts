/**
 * The real server as a child process (`node --import tsx src/main.ts`, or the built
 * dist/main.js), as users run it, with its log in a file and its memory read from /proc.
 * Under a test run (SORI_TEST_LOG_DIR, see test/helpers/test-logs.ts) the log is linked into
 * the run's directory and the API key recorded there, so the check that no secret is logged
 * covers these servers too.
 */
import { appendFileSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
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
  /** A data dir the caller owns (kept on stop, reused across restarts); default a fresh temp dir, removed on stop. */
  dataDir?: string;
  /** Default: a free port. */
  port?: number;
  /** Append to logPath instead of truncating it (restarts of one soak). */
  appendLog?: boolean;
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
  /** The server's own process (its process group holds the inference children and ffmpeg). */
  child: ChildProcess;
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

/**
 * VmRSS / VmHWM in MB of a process and all its descendants (the server runs inference in child
 * processes, so its own figure alone would leave the model out). Peaks are summed per process,
 * an upper bound on the tree's true peak.
 */
export function procMemory(pid: number): { rssMb: number; peakMb: number } | null {
  const one = (p: number): { rss: number; peak: number } | null => {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
      return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
    } catch {
      return null;
    }
  };
  const root = one(pid);
  if (!root) return null;
  let rssMb = root.rss;
  let peakMb = root.peak;
  for (const child of descendants(pid)) {
    const m = one(child);
    if (m) { rssMb += m.rss; peakMb += m.peak; }
  }
  return { rssMb, peakMb };
}

export function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    let kids: number[] = [];
    try {
      for (const task of readdirSync(`/proc/${p}/task`)) {
        kids.push(...readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
      }
    } catch {
      kids = [];
    }
    out.push(...kids);
    queue.push(...kids);
  }
  return out;
}

export interface ProcMem {
  pid: number;
  /** What kind of process: server (the root), inference, ffmpeg, or its command name. */
  role: string;
  rssMb: number;
  peakMb: number;
}

/** VmRSS / VmHWM of a process and of each of its descendants, one row each (Linux /proc). */
export function treeMemory(pid: number): ProcMem[] {
  const out: ProcMem[] = [];
  for (const p of [pid, ...descendants(pid)]) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const role = p === pid ? 'server' : cmd.some((c) => /whisper\/worker[.][jt]s$/.test(c)) ? 'inference' : (cmd[0]?.split('/').pop() ?? '?');
      out.push({ pid: p, role, rssMb: kb('VmRSS'), peakMb: kb('VmHWM') });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

export async function startServer(opts: ServerOptions): Promise<ServerHandle> {
  const port = opts.port ?? (await freePort());
  const ownDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'sori-bench-data-'));
  const env: Record<string, string> = {
    SORI_PORT: String(port),
    SORI_API_KEY: opts.apiKey,
    SORI_MODELS_DIR: opts.modelsDir,
    SORI_DATA_DIR: dataDir,
    ...opts.env,
  };
  // A fresh checkout has no .bench/ yet.
  mkdirSync(dirname(opts.logPath), { recursive: true });
  const logFd = openSync(opts.logPath, opts.appendLog ? 'a' : 'w');
  joinTestRun(opts.logPath, opts.apiKey);
  let child: ChildProcess;
  try {
    const entry = opts.entry ?? 'src/main.ts';
    // As start.sh, npm start and the image run it (their V8 flag).
    const args = entry.endsWith('.ts') ? ['--import', 'tsx', entry] : ['--max-semi-space-size=2', entry];
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
    if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
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
    child,
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

let linked = 0;

/** Under a test run: the log linked into its directory, the key recorded (test/helpers/test-logs.ts's formats). */
function joinTestRun(logPath: string, apiKey: string): void {
  const dir = process.env.SORI_TEST_LOG_DIR;
  if (dir === undefined || dir === '') return;
  mkdirSync(dir, { recursive: true });
  try {
    symlinkSync(resolve(logPath), join(dir, `bench-${basename(logPath, '.log')}-${process.pid}-${++linked}.log`));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  appendFileSync(join(dir, `secrets-bench-${process.pid}.jsonl`), `${JSON.stringify({ source: 'bench server', secret: apiKey })}\n`);
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
