/**
 * The embedded job store: SQLite in WAL mode through libsql (SQLite's maintained fork by Turso,
 * better-sqlite3's API, prebuilt binaries shipped as npm packages so nothing is compiled or
 * downloaded at install). Several processes may open the same file: every claim and every
 * owner-checked write is one statement or one IMMEDIATE transaction, so SQLite's write lock
 * is what makes them atomic.
 *
 * Calls are synchronous inside (sub-millisecond on these small rows); the interface is async
 * so that a networked store (planned, for cluster mode) could implement it unchanged.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'libsql';
import type {
  AttemptResult, DeliveryAttempt, DeliveryKind, DeliveryRecord, JobOutcome, JobRecord, JobSource, JobState,
  JobStore, JobSummary, NewDelivery, NewJob,
} from './store.js';
import { toDelivery, toJob, type AttemptRow, type DeliveryRow, type JobRow } from './store-rows.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  token TEXT PRIMARY KEY,
  domain TEXT NOT NULL,
  state TEXT NOT NULL,
  params TEXT NOT NULL,
  source TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  progress INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_until INTEGER,
  resume_at_ms INTEGER NOT NULL DEFAULT 0,
  partial TEXT,
  result TEXT,
  error_code TEXT,
  error_message TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created_at);
CREATE INDEX IF NOT EXISTS jobs_by_domain ON jobs (domain, created_at);
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  token TEXT NOT NULL,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
CREATE INDEX IF NOT EXISTS deliveries_by_token ON deliveries (token);
CREATE TABLE IF NOT EXISTS delivery_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  delivery_id INTEGER NOT NULL,
  token TEXT NOT NULL,
  at INTEGER NOT NULL,
  status INTEGER,
  error TEXT,
  ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_token ON delivery_attempts (token);
`;

export class SqliteJobStore implements JobStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a job the client was told is accepted must survive power loss, not just a crash.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
  }

  async create(job: NewJob): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO jobs (token, domain, state, params, source, created_at) VALUES (?, ?, 'WAITING', ?, ?, ?)`,
      )
      .run(job.token, job.domain, JSON.stringify(job.params), JSON.stringify(job.source), job.createdAt);
  }

  async get(token: string): Promise<JobRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM jobs WHERE token = ?').get(token) as JobRow | undefined;
    return row === undefined ? undefined : toJob(row);
  }

  async list(domain: string, page: { limit: number; offset: number }): Promise<JobSummary[]> {
    const rows = this.db
      .prepare(
        `SELECT token, state, progress, created_at, finished_at, source FROM jobs WHERE domain = ?
         ORDER BY created_at DESC, token DESC LIMIT ? OFFSET ?`,
      )
      .all(domain, page.limit, page.offset) as Array<Pick<JobRow, 'token' | 'state' | 'progress' | 'created_at' | 'finished_at' | 'source'>>;
    return rows.map((r) => ({
      token: r.token,
      state: r.state as JobState,
      progress: r.progress,
      createdAt: r.created_at,
      finishedAt: r.finished_at,
      source: JSON.parse(r.source) as JobSource,
    }));
  }

  async countUnfinished(): Promise<number> {
    const row = this.db
      .prepare(`SELECT count(*) AS n FROM jobs WHERE state IN ('WAITING', 'PROCESSING')`)
      .get() as { n: number };
    return row.n;
  }

  async claim(owner: string, leaseMs: number, now: number): Promise<JobRecord | undefined> {
    const row = this.db
      .prepare(
        `UPDATE jobs SET state = 'PROCESSING', lease_owner = ?, lease_until = ?, attempts = attempts + 1,
           started_at = coalesce(started_at, ?)
         WHERE token = (
           SELECT token FROM jobs
           WHERE state = 'WAITING' OR (state = 'PROCESSING' AND lease_until < ?)
           ORDER BY created_at LIMIT 1)
         RETURNING *`,
      )
      .get(owner, now + leaseMs, now, now) as JobRow | undefined;
    return row === undefined ? undefined : toJob(row);
  }

  async heartbeat(token: string, owner: string, leaseMs: number, progress: number, now: number): Promise<boolean> {
    const r = this.db
      .prepare(
        `UPDATE jobs SET lease_until = ?, progress = max(progress, ?)
         WHERE token = ? AND state = 'PROCESSING' AND lease_owner = ?`,
      )
      .run(now + leaseMs, Math.round(progress), token, owner);
    return r.changes === 1;
  }

  async checkpoint(token: string, owner: string, resumeAtMs: number, partial: unknown): Promise<boolean> {
    const r = this.db
      .prepare(
        `UPDATE jobs SET resume_at_ms = ?, partial = ?, attempts = 1
         WHERE token = ? AND state = 'PROCESSING' AND lease_owner = ?`,
      )
      .run(Math.round(resumeAtMs), JSON.stringify(partial), token, owner);
    return r.changes === 1;
  }

  async finish(
    token: string,
    owner: string,
    outcome: JobOutcome,
    deliveries: NewDelivery[],
    now: number,
  ): Promise<boolean> {
    return this.finishWhere(token, outcome, deliveries, now, `state = 'PROCESSING' AND lease_owner = ?`, [owner]);
  }

  async finishUnowned(token: string, outcome: JobOutcome, deliveries: NewDelivery[], now: number): Promise<boolean> {
    return this.finishWhere(
      token, outcome, deliveries, now,
      `(state = 'WAITING' OR (state = 'PROCESSING' AND (lease_until IS NULL OR lease_until < ?)))`, [now],
    );
  }

  private finishWhere(
    token: string,
    outcome: JobOutcome,
    deliveries: NewDelivery[],
    now: number,
    condition: string,
    args: unknown[],
  ): boolean {
    return this.immediate((): boolean => {
      const r = this.db
        .prepare(
          `UPDATE jobs SET state = ?, result = ?, error_code = ?, error_message = ?, finished_at = ?,
             progress = CASE WHEN ? = 'COMPLETED' THEN 100 ELSE progress END,
             lease_owner = NULL, lease_until = NULL, partial = NULL
           WHERE token = ? AND ${condition}`,
        )
        .run(
          outcome.state, JSON.stringify(outcome.result), outcome.errorCode ?? null, outcome.errorMessage ?? null, now,
          outcome.state, token, ...args,
        );
      if (r.changes !== 1) return false;
      const insert = this.db.prepare(
        `INSERT INTO deliveries (token, kind, target, state, next_at, created_at) VALUES (?, ?, ?, 'PENDING', ?, ?)`,
      );
      for (const d of deliveries) insert.run(token, d.kind, d.target, now, now);
      return true;
    });
  }

  async releaseLeases(isDead: (owner: string) => boolean): Promise<number> {
    const owners = this.db
      .prepare(`SELECT DISTINCT lease_owner AS owner FROM jobs WHERE state = 'PROCESSING' AND lease_owner IS NOT NULL
                UNION SELECT DISTINCT lease_owner FROM deliveries WHERE state = 'PENDING' AND lease_owner IS NOT NULL`)
      .all() as Array<{ owner: string }>;
    let released = 0;
    for (const { owner } of owners) {
      if (!isDead(owner)) continue;
      released += this.db
        .prepare(`UPDATE jobs SET lease_until = 0 WHERE state = 'PROCESSING' AND lease_owner = ?`)
        .run(owner).changes;
      this.db.prepare(`UPDATE deliveries SET lease_until = 0 WHERE lease_owner = ?`).run(owner);
    }
    return released;
  }

  async listOverdue(before: number): Promise<string[]> {
    const rows = this.db
      .prepare(`SELECT token FROM jobs WHERE state IN ('WAITING', 'PROCESSING') AND created_at < ?`)
      .all(before) as Array<{ token: string }>;
    return rows.map((r) => r.token);
  }

  async claimDelivery(owner: string, leaseMs: number, now: number): Promise<DeliveryRecord | undefined> {
    const row = this.db
      .prepare(
        `UPDATE deliveries SET lease_owner = ?, lease_until = ?
         WHERE id = (
           SELECT id FROM deliveries
           WHERE state = 'PENDING' AND next_at <= ? AND (lease_until IS NULL OR lease_until < ?)
           ORDER BY next_at LIMIT 1)
         RETURNING *`,
      )
      .get(owner, now + leaseMs, now, now) as DeliveryRow | undefined;
    return row === undefined ? undefined : toDelivery(row);
  }

  async recordAttempt(id: number, owner: string, result: AttemptResult, now: number): Promise<void> {
    this.immediate(() => {
      const d = this.db.prepare('SELECT token FROM deliveries WHERE id = ?').get(id) as { token: string } | undefined;
      if (d === undefined) return;
      this.db
        .prepare(`INSERT INTO delivery_attempts (delivery_id, token, at, status, error, ms) VALUES (?, ?, ?, ?, ?, ?)`)
        .run(id, d.token, now, result.status, result.outcome === 'delivered' ? null : result.error, Math.round(result.ms));
      const state = result.outcome === 'delivered' ? 'DELIVERED' : result.outcome === 'gave-up' ? 'GAVE_UP' : 'PENDING';
      this.db
        .prepare(
          `UPDATE deliveries SET state = ?, attempts = attempts + 1, next_at = ?, delivered_at = ?,
             lease_owner = NULL, lease_until = NULL
           WHERE id = ? AND lease_owner = ?`,
        )
        .run(state, result.outcome === 'retry' ? result.nextAt : now, result.outcome === 'delivered' ? now : null, id, owner);
    });
  }

  async deliveries(token: string): Promise<{ deliveries: DeliveryRecord[]; attempts: DeliveryAttempt[] }> {
    const rows = this.db.prepare('SELECT * FROM deliveries WHERE token = ? ORDER BY id').all(token) as DeliveryRow[];
    const attempts = this.db
      .prepare(
        `SELECT a.delivery_id, d.kind, a.at, a.status, a.error, a.ms FROM delivery_attempts a
         JOIN deliveries d ON d.id = a.delivery_id WHERE a.token = ? ORDER BY a.id`,
      )
      .all(token) as AttemptRow[];
    return {
      deliveries: rows.map(toDelivery),
      attempts: attempts.map((a) => ({
        deliveryId: a.delivery_id, kind: a.kind as DeliveryKind, at: a.at, status: a.status, error: a.error, ms: a.ms,
      })),
    };
  }

  async purge(before: number): Promise<string[]> {
    return this.immediate((): string[] => {
      const rows = this.db
        .prepare(
          `SELECT token FROM jobs WHERE state IN ('COMPLETED', 'FAILED', 'TIMEOUT') AND finished_at < ?
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.token = jobs.token AND d.state = 'PENDING')`,
        )
        .all(before) as Array<{ token: string }>;
      for (const { token } of rows) {
        this.db.prepare('DELETE FROM delivery_attempts WHERE token = ?').run(token);
        this.db.prepare('DELETE FROM deliveries WHERE token = ?').run(token);
        this.db.prepare('DELETE FROM jobs WHERE token = ?').run(token);
      }
      return rows.map((r) => r.token);
    });
  }

  async close(): Promise<void> {
    this.db.close();
  }

  /**
   * `fn` in one IMMEDIATE transaction. libsql's own wrapper always issues ROLLBACK on an error,
   * but SQLite has already rolled back after some (SQLITE_FULL: a full disk), and that second
   * ROLLBACK's "no transaction is active" would replace the real cause.
   */
  private immediate<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }
}
