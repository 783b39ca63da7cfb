/**
 * A real PostgreSQL for tests: scripts/postgres.sh (Debian's package, an unprivileged user, its
 * own data directory) in a temp dir on a free port; one per test file, each test on a database
 * of its own inside it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
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
