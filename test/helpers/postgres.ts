/**
 * A real PostgreSQL for tests: scripts/postgres.sh (Debian's package, an unprivileged user, its
 * own data directory) in a temp dir on a free port; one per test file, each test on a database
 * of its own inside it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';
import { registerSecrets } from './test-logs.js';

const run = promisify(execFile);
const SCRIPT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'scripts', 'postgres.sh');

export interface PostgresServer {
  /** The `sori` database's URL (its password is a generated secret). */
  url: string;
  port: number;
  /** A new empty database on this server; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** `fast` ends sessions cleanly; `immediate` is a crash (recovery from the WAL at the next start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** SIGSTOPs the server and every backend: it hangs, neither answering nor closing connections. */
  freeze(): Promise<void>;
  /** SIGCONTs what freeze() stopped. */
  thaw(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  close(): Promise<void>;
}

async function script(args: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await run('bash', [SCRIPT, ...args], { env: { ...process.env, ...env }, timeout: 120_000 });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/postgres.sh ${args[0]} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** The postmaster (first line of postmaster.pid) and its children, read from /proc. */
async function serverProcesses(dataDir: string): Promise<number[]> {
  const postmaster = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // "pid (comm) state ppid ...": comm may hold spaces, so split after its closing parenthesis.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === postmaster) children.push(Number(entry));
  }
  return [postmaster, ...children];
}

export async function startPostgres(): Promise<PostgresServer> {
  const dir = await mkdtemp(join(tmpdir(), 'sori-pg-'));
  const port = await freePort();
  const url = await script(['start', dir], { SORI_PG_PORT: String(port) });
  const password = decodeURIComponent(new URL(url).password);
  registerSecrets('postgres', password);
  let running = true;
  return {
    url,
    port,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      const u = new URL(url);
      u.pathname = `/${name}`;
      return u.href;
    },
    async stop(mode = 'fast') {
      await script(['stop', dir, mode]);
      running = false;
    },
    async freeze() {
      for (const pid of await serverProcesses(join(dir, 'data'))) process.kill(pid, 'SIGSTOP');
    },
    async thaw() {
      for (const pid of await serverProcesses(join(dir, 'data'))) process.kill(pid, 'SIGCONT');
    },
    async start() {
      await script(['start', dir]);
      running = true;
    },
    async close() {
      if (running) await script(['stop', dir, 'immediate']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
