/**
 * Stream slots counted across the cluster: one row per open stream in PostgreSQL's
 * `stream_slots` (migration 4), so a domain's `maxConcurrentStreams` holds over every node.
 *
 * - Taking a slot is one transaction under a per-domain advisory lock: expired rows of the
 *   domain are dropped, the rest counted, and a row inserted only below the limit. Two nodes
 *   taking the last slot at once are serialised by the lock, so one of them is refused.
 * - A slot is leased like a job (`jobs.leaseSeconds`): this node's heartbeat renews the rows it
 *   holds every third of the lease, in one UPDATE. A node that dies stops renewing; its rows
 *   expire after the lease and no longer count. A node starting on the same host drops at once
 *   the rows of dead processes there (owner ids as the job leases name them: jobs/owner.ts).
 * - Rows this node no longer holds (a release that failed while PostgreSQL was down) are
 *   deleted by the next heartbeat, so they never linger for more than one beat.
 *
 * Expiry uses the database's clock (now()), never a node's, so clock skew between nodes does not
 * shorten or stretch a lease.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { DomainConfig } from '../config.js';
import { isDeadLocalOwner } from '../jobs/owner.js';
import { PostgresJobStore } from '../jobs/postgres-store.js';
import { StreamSlots, type ReleaseSlot, type StreamSlotPool } from './stream-slots.js';

/** The advisory lock space of stream slots ("sor" in ASCII, then 2); the second key is the domain's hash. */
const SLOT_LOCK = 0x736f7202;

export interface PostgresStreamSlotsOptions {
  /** The job store's database (its pool, its migrations, its "unavailable" error). */
  store: Pick<PostgresJobStore, 'query' | 'transaction'>;
  /** This process's owner id (jobs/owner.ts). */
  owner: string;
  /** A slot not renewed this long stops counting. */
  leaseMs: number;
  logger: Logger;
}

export class PostgresStreamSlots implements StreamSlotPool {
  private readonly held = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();

  constructor(private readonly options: PostgresStreamSlotsOptions) {}

  /** Frees slots of dead local processes, then starts the heartbeat. */
  async start(): Promise<void> {
    const { store, owner, logger } = this.options;
    try {
      const { rows } = await store.query<{ owner: string }>('SELECT DISTINCT owner FROM stream_slots');
      const dead = rows.map((r) => r.owner).filter((o) => isDeadLocalOwner(o, owner));
      if (dead.length > 0) {
        const r = await store.query('DELETE FROM stream_slots WHERE owner = ANY($1)', [dead]);
        logger.info({ slots: r.rowCount }, 'stream slots: released the slots of processes that no longer run');
      }
    } catch (err) {
      // Not fatal: those rows expire after their lease anyway.
      logger.warn({ err }, 'stream slots: could not release the slots of dead processes');
    }
    const every = Math.max(250, Math.floor(this.options.leaseMs / 3));
    this.timer = setInterval(() => {
      this.beating = this.beating.then(() => this.heartbeat());
    }, every);
    this.timer.unref();
  }

  async take(domain: DomainConfig): Promise<ReleaseSlot | undefined> {
    const { store, owner, leaseMs } = this.options;
    const id = randomUUID();
    // Held from before the insert: a heartbeat running meanwhile must not delete the new row as unheld.
    this.held.add(id);
    const taken = await store.transaction(async (db) => {
      await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SLOT_LOCK, domain.name]);
      // A new statement after the lock: its snapshot sees every slot committed before it.
      await db.query('DELETE FROM stream_slots WHERE domain = $1 AND expires_at < now()', [domain.name]);
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM stream_slots WHERE domain = $1', [domain.name]);
      if (rows[0].n >= domain.limits.maxConcurrentStreams) return false;
      await db.query(
        `INSERT INTO stream_slots (id, domain, owner, acquired_at, expires_at)
         VALUES ($1, $2, $3, now(), now() + $4 * interval '1 millisecond')`,
        [id, domain.name, owner, leaseMs],
      );
      return true;
    }).catch((err: unknown) => {
      this.held.delete(id);
      throw err;
    });
    if (!taken) {
      this.held.delete(id);
      return undefined;
    }
    return () => {
      if (!this.held.delete(id)) return;
      store.query('DELETE FROM stream_slots WHERE id = $1', [id]).catch((err: unknown) => {
        // The next heartbeat deletes it (it is no longer held), or its lease ends.
        this.options.logger.warn({ err, domain: domain.name }, 'stream slots: could not release a slot now');
      });
    };
  }

  /** Renews the slots held, drops the rows this node holds no longer. */
  async heartbeat(): Promise<void> {
    const { store, owner, leaseMs, logger } = this.options;
    const ids = [...this.held];
    try {
      await store.query(
        `UPDATE stream_slots SET expires_at = now() + $3 * interval '1 millisecond' WHERE owner = $1 AND id = ANY($2)`,
        [owner, ids, leaseMs],
      );
      await store.query('DELETE FROM stream_slots WHERE owner = $1 AND NOT (id = ANY($2))', [owner, ids]);
    } catch (err) {
      logger.warn({ err, slots: ids.length }, 'stream slots: heartbeat failed; held slots expire if PostgreSQL stays away');
    }
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.beating;
    this.held.clear();
    await this.options.store.query('DELETE FROM stream_slots WHERE owner = $1', [this.options.owner]).catch((err: unknown) => {
      this.options.logger.warn({ err }, 'stream slots: could not release the slots on close; they expire after the lease');
    });
  }
}

/** The pool for this node: counted in PostgreSQL when the job store is PostgreSQL, else in this process. */
export function streamSlotsFor(store: unknown, options: Omit<PostgresStreamSlotsOptions, 'store'>): StreamSlotPool {
  return store instanceof PostgresJobStore ? new PostgresStreamSlots({ ...options, store }) : new StreamSlots();
}
