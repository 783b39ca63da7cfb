/**
 * The PostgreSQL job store's schema, as numbered migrations applied at boot. Every node runs
 * `migrate` as it starts; a transaction-scoped advisory lock makes the first one apply what is
 * missing while the others wait on the lock, then find nothing left to do. DDL is transactional
 * in PostgreSQL, so a node dying mid-migration leaves the schema as it was.
 *
 * A released migration is never edited: a change is a new entry at the end.
 */
import type { Pool } from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Times are epoch milliseconds (BIGINT) and JSON is stored as text, as the SQLite store keeps them. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs, deliveries, delivery attempts',
    sql: `
      CREATE TABLE jobs (
        token TEXT PRIMARY KEY,
        domain TEXT NOT NULL,
        state TEXT NOT NULL,
        params TEXT NOT NULL,
        source TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        started_at BIGINT,
        finished_at BIGINT,
        progress INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until BIGINT,
        resume_at_ms BIGINT NOT NULL DEFAULT 0,
        partial TEXT,
        result TEXT,
        error_code TEXT,
        error_message TEXT
      );
      CREATE INDEX jobs_by_state ON jobs (state, created_at);
      CREATE TABLE deliveries (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        token TEXT NOT NULL,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at BIGINT NOT NULL,
        lease_owner TEXT,
        lease_until BIGINT,
        created_at BIGINT NOT NULL,
        delivered_at BIGINT
      );
      CREATE INDEX deliveries_due ON deliveries (state, next_at);
      CREATE INDEX deliveries_by_token ON deliveries (token);
      CREATE TABLE delivery_attempts (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        delivery_id BIGINT NOT NULL,
        token TEXT NOT NULL,
        at BIGINT NOT NULL,
        status INTEGER,
        error TEXT,
        ms INTEGER NOT NULL
      );
      CREATE INDEX attempts_by_token ON delivery_attempts (token);
    `,
  },
  {
    version: 2,
    name: "a domain's jobs, newest first",
    sql: 'CREATE INDEX jobs_by_domain ON jobs (domain, created_at)',
  },
  // Version 3 is left to another change made at the same time (shared media).
  {
    version: 4,
    name: 'stream slots held across the cluster',
    // Times are the database's (TIMESTAMPTZ, now()): nodes' clocks never compare with each other.
    sql: `
      CREATE TABLE stream_slots (
        id TEXT PRIMARY KEY,
        domain TEXT NOT NULL,
        owner TEXT NOT NULL,
        acquired_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
      );
      CREATE INDEX stream_slots_by_domain ON stream_slots (domain, expires_at);
      CREATE INDEX stream_slots_by_owner ON stream_slots (owner);
    `,
  },
  {
    version: 5,
    name: 'registered boosting keywords shared by every node',
    sql: `
      CREATE TABLE domain_boostings (
        domain TEXT PRIMARY KEY,
        keywords TEXT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
      );
    `,
  },
];

/** Sori's advisory lock key for migrations ("sori" in ASCII, then 1). */
const MIGRATION_LOCK = 0x736f726901;

/**
 * Applies the migrations this database lacks, in order, in one transaction under the lock;
 * returns the versions this call applied (empty when another node had already done it).
 */
export async function migrate(pool: Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A connection cut while checked out also emits 'error', which would otherwise end the process.
  const onLost = (): void => undefined;
  client.on('error', onLost);
  try {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query(
        `CREATE TABLE IF NOT EXISTS sori_schema_migrations (
           version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query<{ version: number }>('SELECT version FROM sori_schema_migrations');
      const done = new Set(rows.map((r) => r.version));
      const applied: number[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        await client.query(m.sql);
        await client.query('INSERT INTO sori_schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        applied.push(m.version);
      }
      await client.query('COMMIT');
      return applied;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } catch (err) {
    broken = err as Error;
    throw err;
  } finally {
    client.off('error', onLost);
    // A client whose connection failed is dropped from the pool rather than handed out again.
    client.release(broken);
  }
}
