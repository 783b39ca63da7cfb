/**
 * The job store's dispatch capacity: how many claims and heartbeats per second it takes from
 * many workers at once, SQLite against PostgreSQL. Workers are simulated (no recognition): each
 * claims a job, renews its lease `--heartbeats` times, finishes it with one callback delivery,
 * and claims the next, as fast as the store answers. They are spread over `--nodes` stores on
 * the same database, as nodes of a cluster would be (SQLite: connections to one file in this
 * process; PostgreSQL: a pool of workers/nodes connections per store).
 *
 *   npm run bench:store                              # 50 workers, 5 nodes, 10 s per backend
 *   npm run bench:store -- --workers 50 --seconds 20 --backend postgres --pg-url postgres://...
 *
 * Without --pg-url it starts its own PostgreSQL with scripts/postgres.sh (Debian's package, a
 * temp directory) and stops it at the end. Prints figures; asserts nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { PostgresJobStore } from '../src/jobs/postgres-store.js';
import { SqliteJobStore } from '../src/jobs/sqlite-store.js';
import type { JobStore } from '../src/jobs/store.js';
import { percentile, round } from './lib/stats.js';
import { formatTable } from './lib/table.js';

const { values: a } = parseArgs({
  options: {
    workers: { type: 'string', default: '50' },
    nodes: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '10' },
    heartbeats: { type: 'string', default: '3' },
    backend: { type: 'string', default: 'sqlite,postgres' },
    'pg-url': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (a.help) {
  console.log('usage: npm run bench:store -- [--workers 50] [--nodes 5] [--seconds 10] [--heartbeats 3] [--backend sqlite,postgres] [--pg-url URL]');
  process.exit(0);
}
const WORKERS = Number(a.workers);
const NODES = Math.min(Number(a.nodes), WORKERS);
const SECONDS = Number(a.seconds);
const HEARTBEATS = Number(a.heartbeats);
const LEASE_MS = 30_000;
const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

type Op = 'claim' | 'heartbeat' | 'finish';

interface Figures {
  backend: string;
  seconds: number;
  ms: Record<Op, number[]>;
  emptyClaims: number;
}

/** The jobs the run may consume: refilled in the background as the workers drain them. */
async function preload(store: JobStore, from: number, count: number): Promise<void> {
  const batch = 50;
  for (let i = from; i < from + count; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, from + count - i) }, (_, k) => store.create({
      token: `bench${String(i + k).padStart(8, '0')}`, domain: 'general', params: { language: 'ko-KR', completion: 'async' },
      source: { kind: 'url', url: 'http://media.example/a.wav' }, createdAt: i + k,
    })));
  }
}

async function timed<T>(samples: number[], fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await fn();
  samples.push(performance.now() - t0);
  return out;
}

async function measure(backend: string, stores: JobStore[]): Promise<Figures> {
  const figures: Figures = { backend, seconds: 0, ms: { claim: [], heartbeat: [], finish: [] }, emptyClaims: 0 };
  // Enough for the fastest backend seen here, so the run rarely finds the queue empty.
  await preload(stores[0], 0, 4000);
  let loaded = 4000;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  let refilling: Promise<void> | undefined;
  const worker = async (w: number): Promise<void> => {
    const store = stores[w % stores.length];
    const owner = `node${w % stores.length}:worker${w}`;
    while (performance.now() < end) {
      const job = await timed(figures.ms.claim, () => store.claim(owner, LEASE_MS, Date.now()));
      if (job === undefined) {
        figures.emptyClaims++;
        refilling ??= preload(stores[0], loaded, 2000).then(() => {
          loaded += 2000;
          refilling = undefined;
        });
        await refilling;
        continue;
      }
      for (let h = 0; h < HEARTBEATS; h++) {
        await timed(figures.ms.heartbeat, () => store.heartbeat(job.token, owner, LEASE_MS, (h + 1) * 20, Date.now()));
      }
      await timed(figures.ms.finish, () => store.finish(
        job.token, owner, { state: 'COMPLETED', result: { text: 'bench', segments: [] } }, [{ kind: 'callback', target: 'http://cb.example/' }], Date.now(),
      ));
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  figures.seconds = (performance.now() - t0) / 1000;
  return figures;
}

async function script(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [join(REPO, 'scripts/postgres.sh'), ...args], { timeout: 120_000 });
  return stdout.trim();
}

async function runSqlite(): Promise<Figures> {
  const dir = await mkdtemp(join(tmpdir(), 'sori-bench-store-'));
  const stores = Array.from({ length: NODES }, () => new SqliteJobStore(join(dir, 'sori.db')));
  try {
    return await measure('SQLite (WAL, synchronous=FULL)', stores);
  } finally {
    for (const s of stores) await s.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function runPostgres(): Promise<Figures> {
  let url = a['pg-url'];
  let dir: string | undefined;
  if (url === undefined) {
    dir = await mkdtemp(join(tmpdir(), 'sori-bench-pg-'));
    url = await script(['start', dir]);
  }
  // A database of its own, so a given --pg-url is not touched beyond it.
  const dbName = `sori_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(url);
  u.pathname = `/${dbName}`;
  const poolSize = Math.ceil(WORKERS / NODES);
  const stores = Array.from({ length: NODES }, () => new PostgresJobStore({ url: u.href, poolSize }));
  try {
    await Promise.all(stores.map((s) => s.ready()));
    return await measure(`PostgreSQL (${NODES} pools of ${poolSize})`, stores);
  } finally {
    for (const s of stores) await s.close();
    await admin.query(`DROP DATABASE ${dbName}`).catch(() => undefined);
    await admin.end();
    if (dir !== undefined) {
      await script(['stop', dir]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  }
}

const results: Figures[] = [];
for (const backend of a.backend.split(',')) {
  if (backend === 'sqlite') results.push(await runSqlite());
  else if (backend === 'postgres') results.push(await runPostgres());
  else throw new Error(`unknown backend ${backend}: sqlite or postgres`);
}

console.log(`\n${WORKERS} simulated workers on ${NODES} stores, ${SECONDS} s each; a job = 1 claim + ${HEARTBEATS} heartbeats + 1 finish (with one delivery)\n`);
const ms = (xs: number[], p: number) => round(percentile(xs, p), 2);
console.log(formatTable(
  ['backend', 'claims/s', 'heartbeats/s', 'claims+heartbeats/s', 'finishes/s', 'claim p50 ms', 'claim p99 ms', 'heartbeat p50 ms', 'heartbeat p99 ms', 'finish p50 ms', 'finish p99 ms'],
  results.map((f) => {
    const per = (n: number) => round(n / f.seconds, 0);
    return [
      f.backend, per(f.ms.claim.length - f.emptyClaims), per(f.ms.heartbeat.length), per(f.ms.claim.length - f.emptyClaims + f.ms.heartbeat.length),
      per(f.ms.finish.length), ms(f.ms.claim, 50), ms(f.ms.claim, 99), ms(f.ms.heartbeat, 50), ms(f.ms.heartbeat, 99),
      ms(f.ms.finish, 50), ms(f.ms.finish, 99),
    ];
  }),
));
