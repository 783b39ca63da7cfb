/**
 * The job store for several nodes: PostgreSQL through node-postgres (`pg`) and its Pool
 * (docs/decisions.md, "PostgreSQL job store"). The same rows and the same semantics as the
 * SQLite store (sqlite-store.ts); what differs is how atomicity is had:
 *
 * - claims take the oldest due row with `FOR UPDATE SKIP LOCKED`, so nodes claiming at once
 *   each get a different job without waiting on one another;
 * - owner-checked writes are single UPDATEs whose WHERE names the owner (re-checked by
 *   PostgreSQL once a concurrent writer's row lock is released); finishing a job with its
 *   deliveries, recording an attempt and purging are transactions on one pooled connection.
 *
 * The schema is migrated on first use (postgres-migrations.ts). When PostgreSQL cannot be
 * reached, calls reject with JobStoreUnavailableError and nothing is written; the pool drops
 * the broken connections and opens new ones once the server is back, so no restart is needed.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { migrate } from './postgres-migrations.js';
import { isConnectionError } from './postgres-errors.js';
import { JOB_ENDED_CHANNEL, WORK_CHANNEL } from './postgres-notifications.js';
import {
  JobStoreUnavailableError,
  type AttemptResult, type DeliveryAttempt, type DeliveryKind, type DeliveryRecord, type JobOutcome, type JobRecord,
  type JobSource, type JobState, type JobStore, type NewDelivery, type NewJob,
} from './store.js';
import { toDelivery, toJob, type AttemptRow, type DeliveryRow, type JobRow } from './store-rows.js';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database (a secret: it is never logged). */
  url: string;
  /** Connections at most, per process. */
  poolSize: number;
  /** How long to wait for a connection (to be opened, or freed by the pool) before failing. */
  connectTimeoutMs?: number;
  /**
   * How long one statement may go unanswered before it fails as "unavailable" and its connection
   * is dropped: a server that hangs (frozen, or cut off without a reset) must not hold a worker
   * slot forever.
   */
  queryTimeoutMs?: number;
  logger?: Logger;
}

/** BIGINT columns (epoch ms, ids, counts) as numbers: they stay far below 2^53. */
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** host:port/database, for messages: never the user or password. */
function databaseLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'the configured database';
  }
}

export type Queryable = Pick<pg.PoolClient, 'query'>;

export class PostgresJobStore implements JobStore {
  private readonly pool: pg.Pool;
  private readonly where: string;
  private migrated: Promise<number[]> | undefined;

  constructor(options: PostgresStoreOptions) {
    this.where = databaseLabel(options.url);
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      query_timeout: options.queryTimeoutMs ?? 30_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'sori',
      types,
    });
    // An idle connection dropped by the server (a restart) is an event, not a crash: the pool
    // removes it, and the next query opens a new one.
    this.pool.on('error', (err) => {
      options.logger?.warn({ err }, 'job store: an idle PostgreSQL connection was closed');
    });
  }

  /**
   * Applies the schema migrations this database lacks (once per store; concurrent nodes wait on
   * one another); returns the versions this store applied. Every other call awaits it first, and
   * a failed attempt (PostgreSQL down at boot) is tried again by the next call.
   */
  ready(): Promise<number[]> {
    this.migrated ??= this.run(() => migrate(this.pool)).catch((err: unknown) => {
      this.migrated = undefined;
      throw err;
    });
    return this.migrated;
  }

  /** Every node's idle workers are woken (NOTIFY, sent when the insert commits). */
  async create(job: NewJob): Promise<void> {
    await this.query(
      `WITH created AS (
         INSERT INTO jobs (token, domain, state, params, source, created_at) VALUES ($1, $2, 'WAITING', $3, $4, $5) RETURNING token)
       SELECT pg_notify('${WORK_CHANNEL}', '') FROM created`,
      [job.token, job.domain, JSON.stringify(job.params), JSON.stringify(job.source), job.createdAt],
    );
  }

  async get(token: string): Promise<JobRecord | undefined> {
    const { rows } = await this.query<JobRow>('SELECT * FROM jobs WHERE token = $1', [token]);
    return rows.length === 0 ? undefined : toJob(rows[0]);
  }

  /** A domain's jobs, newest first (ties: token descending), `offset` of them skipped; the job list's lines. */
  async list(
    domain: string,
    page: { limit: number; offset: number },
  ): Promise<Array<Pick<JobRecord, 'token' | 'state' | 'progress' | 'createdAt' | 'finishedAt' | 'source'>>> {
    const { rows } = await this.query<Pick<JobRow, 'token' | 'state' | 'progress' | 'created_at' | 'finished_at' | 'source'>>(
      `SELECT token, state, progress, created_at, finished_at, source FROM jobs WHERE domain = $1
       ORDER BY created_at DESC, token DESC LIMIT $2 OFFSET $3`,
      [domain, page.limit, page.offset],
    );
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
    const { rows } = await this.query<{ n: number }>(`SELECT count(*) AS n FROM jobs WHERE state IN ('WAITING', 'PROCESSING')`);
    return rows[0].n;
  }

  async claim(owner: string, leaseMs: number, now: number): Promise<JobRecord | undefined> {
    const { rows } = await this.query<JobRow>(
      `UPDATE jobs SET state = 'PROCESSING', lease_owner = $1, lease_until = $2, attempts = attempts + 1,
         started_at = coalesce(started_at, $3)
       WHERE token = (
         SELECT token FROM jobs
         WHERE state = 'WAITING' OR (state = 'PROCESSING' AND lease_until < $3)
         ORDER BY created_at LIMIT 1
         FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, now + leaseMs, now],
    );
    return rows.length === 0 ? undefined : toJob(rows[0]);
  }

  async heartbeat(token: string, owner: string, leaseMs: number, progress: number, now: number): Promise<boolean> {
    const r = await this.query(
      `UPDATE jobs SET lease_until = $1, progress = greatest(progress, $2)
       WHERE token = $3 AND state = 'PROCESSING' AND lease_owner = $4`,
      [now + leaseMs, Math.round(progress), token, owner],
    );
    return r.rowCount === 1;
  }

  async checkpoint(token: string, owner: string, resumeAtMs: number, partial: unknown): Promise<boolean> {
    const r = await this.query(
      `UPDATE jobs SET resume_at_ms = $1, partial = $2, attempts = 1
       WHERE token = $3 AND state = 'PROCESSING' AND lease_owner = $4`,
      [Math.round(resumeAtMs), JSON.stringify(partial), token, owner],
    );
    return r.rowCount === 1;
  }

  async finish(token: string, owner: string, outcome: JobOutcome, deliveries: NewDelivery[], now: number): Promise<boolean> {
    return this.finishWhere(token, outcome, deliveries, now, `state = 'PROCESSING' AND lease_owner = $8`, [owner]);
  }

  async finishUnowned(token: string, outcome: JobOutcome, deliveries: NewDelivery[], now: number): Promise<boolean> {
    return this.finishWhere(
      token, outcome, deliveries, now,
      `(state = 'WAITING' OR (state = 'PROCESSING' AND (lease_until IS NULL OR lease_until < $8)))`, [now],
    );
  }

  private finishWhere(
    token: string,
    outcome: JobOutcome,
    deliveries: NewDelivery[],
    now: number,
    condition: string,
    args: unknown[],
  ): Promise<boolean> {
    return this.transaction(async (db): Promise<boolean> => {
      const r = await db.query(
        `UPDATE jobs SET state = $1, result = $2, error_code = $3, error_message = $4, finished_at = $5,
           progress = CASE WHEN $6 = 'COMPLETED' THEN 100 ELSE progress END,
           lease_owner = NULL, lease_until = NULL, partial = NULL
         WHERE token = $7 AND ${condition}`,
        [
          outcome.state, JSON.stringify(outcome.result), outcome.errorCode ?? null, outcome.errorMessage ?? null, now,
          outcome.state, token, ...args,
        ],
      );
      if (r.rowCount !== 1) return false;
      for (const d of deliveries) {
        await db.query(
          `INSERT INTO deliveries (token, kind, target, state, next_at, created_at) VALUES ($1, $2, $3, 'PENDING', $4, $4)`,
          [token, d.kind, d.target, now],
        );
      }
      // Sent at COMMIT, to every node: sync requests waiting for this job, delivery workers.
      await db.query(`SELECT pg_notify('${JOB_ENDED_CHANNEL}', $1)`, [token]);
      if (deliveries.length > 0) await db.query(`SELECT pg_notify('${WORK_CHANNEL}', '')`);
      return true;
    });
  }

  async releaseLeases(isDead: (owner: string) => boolean): Promise<number> {
    const { rows } = await this.query<{ owner: string }>(
      `SELECT DISTINCT lease_owner AS owner FROM jobs WHERE state = 'PROCESSING' AND lease_owner IS NOT NULL
       UNION SELECT DISTINCT lease_owner FROM deliveries WHERE state = 'PENDING' AND lease_owner IS NOT NULL`,
    );
    const dead = rows.map((r) => r.owner).filter((owner) => isDead(owner));
    if (dead.length === 0) return 0;
    const r = await this.query(`UPDATE jobs SET lease_until = 0 WHERE state = 'PROCESSING' AND lease_owner = ANY($1)`, [dead]);
    await this.query(`UPDATE deliveries SET lease_until = 0 WHERE lease_owner = ANY($1)`, [dead]);
    return r.rowCount ?? 0;
  }

  async listOverdue(before: number): Promise<string[]> {
    const { rows } = await this.query<{ token: string }>(
      `SELECT token FROM jobs WHERE state IN ('WAITING', 'PROCESSING') AND created_at < $1`,
      [before],
    );
    return rows.map((r) => r.token);
  }

  async claimDelivery(owner: string, leaseMs: number, now: number): Promise<DeliveryRecord | undefined> {
    const { rows } = await this.query<DeliveryRow>(
      `UPDATE deliveries SET lease_owner = $1, lease_until = $2
       WHERE id = (
         SELECT id FROM deliveries
         WHERE state = 'PENDING' AND next_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
         ORDER BY next_at LIMIT 1
         FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, now + leaseMs, now],
    );
    return rows.length === 0 ? undefined : toDelivery(rows[0]);
  }

  async recordAttempt(id: number, owner: string, result: AttemptResult, now: number): Promise<void> {
    await this.transaction(async (db) => {
      const { rows } = await db.query<{ token: string }>('SELECT token FROM deliveries WHERE id = $1 FOR UPDATE', [id]);
      if (rows.length === 0) return;
      await db.query(
        `INSERT INTO delivery_attempts (delivery_id, token, at, status, error, ms) VALUES ($1, $2, $3, $4, $5, $6)`,
        [id, rows[0].token, now, result.status, result.outcome === 'delivered' ? null : result.error, Math.round(result.ms)],
      );
      const state = result.outcome === 'delivered' ? 'DELIVERED' : result.outcome === 'gave-up' ? 'GAVE_UP' : 'PENDING';
      await db.query(
        `UPDATE deliveries SET state = $1, attempts = attempts + 1, next_at = $2, delivered_at = $3,
           lease_owner = NULL, lease_until = NULL
         WHERE id = $4 AND lease_owner = $5`,
        [state, result.outcome === 'retry' ? result.nextAt : now, result.outcome === 'delivered' ? now : null, id, owner],
      );
    });
  }

  async deliveries(token: string): Promise<{ deliveries: DeliveryRecord[]; attempts: DeliveryAttempt[] }> {
    const { rows } = await this.query<DeliveryRow>('SELECT * FROM deliveries WHERE token = $1 ORDER BY id', [token]);
    const attempts = await this.query<AttemptRow>(
      `SELECT a.delivery_id, d.kind, a.at, a.status, a.error, a.ms FROM delivery_attempts a
       JOIN deliveries d ON d.id = a.delivery_id WHERE a.token = $1 ORDER BY a.id`,
      [token],
    );
    return {
      deliveries: rows.map(toDelivery),
      attempts: attempts.rows.map((a) => ({
        deliveryId: a.delivery_id, kind: a.kind as DeliveryKind, at: a.at, status: a.status, error: a.error, ms: a.ms,
      })),
    };
  }

  async purge(before: number): Promise<string[]> {
    return this.transaction(async (db): Promise<string[]> => {
      // Locked so that a job claimed or finished meanwhile is not deleted under its writer.
      const { rows } = await db.query<{ token: string }>(
        `SELECT token FROM jobs WHERE state IN ('COMPLETED', 'FAILED', 'TIMEOUT') AND finished_at < $1
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.token = jobs.token AND d.state = 'PENDING')
         FOR UPDATE SKIP LOCKED`,
        [before],
      );
      const tokens = rows.map((r) => r.token);
      if (tokens.length === 0) return tokens;
      await db.query('DELETE FROM delivery_attempts WHERE token = ANY($1)', [tokens]);
      await db.query('DELETE FROM deliveries WHERE token = ANY($1)', [tokens]);
      await db.query('DELETE FROM jobs WHERE token = ANY($1)', [tokens]);
      return tokens;
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /**
   * One `SELECT 1` round trip (after the migrations): resolves when PostgreSQL answers, rejects
   * with JobStoreUnavailableError when it cannot be reached. /healthz asks it.
   */
  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  /**
   * One statement on the pool, once the schema is migrated; "unreachable" becomes
   * JobStoreUnavailableError. Public for the other cluster-wide state kept in the same database
   * (stream slots, registered boostings), so it shares this pool and its error semantics.
   */
  async query<Row extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<Row>> {
    await this.ready();
    return this.run(() => this.pool.query<Row>(text, values));
  }

  /** `fn` in one transaction on one connection; rolled back if it throws. Public as query() is. */
  async transaction<T>(fn: (db: Queryable) => Promise<T>): Promise<T> {
    await this.ready();
    return this.run(async () => {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      const onLost = (): void => undefined;
      // A connection cut while checked out emits 'error' besides failing the query in flight;
      // without a listener that event would end the process. The query's own error is what counts.
      client.on('error', onLost);
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        broken = err as Error;
        if (!isConnectionError(err)) await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.off('error', onLost);
        // A connection that failed is closed rather than handed out again.
        client.release(broken !== undefined && isConnectionError(broken) ? broken : undefined);
      }
    });
  }

  /** Runs `fn`, turning "PostgreSQL cannot be reached" into JobStoreUnavailableError. */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      // The reason in the message, not as `cause`: pino's serializer would print it twice.
      throw new JobStoreUnavailableError(`job store unavailable: PostgreSQL at ${this.where}: ${(err as Error).message}`);
    }
  }
}
