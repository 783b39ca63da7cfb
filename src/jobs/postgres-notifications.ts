/**
 * Cluster-wide wake-ups over PostgreSQL LISTEN/NOTIFY, so that no node polls for what another
 * did: the store NOTIFYs inside the transactions that create work (a job accepted, deliveries
 * queued) and end jobs, so a notification goes out exactly when the change commits; every node
 * LISTENs on one dedicated connection (this module) and turns notifications into local events.
 *
 * A notification is lost while a node's listening connection is down. The connection is
 * reopened with backoff and `connected` is emitted each time, so waiters look again at once; a
 * slow safety poll (config `database.notifyFallbackSeconds`) covers whatever else slips through.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';

/** New work may be due: a job was accepted, or deliveries were queued. Payload: empty. */
export const WORK_CHANNEL = 'sori_work';
/** A job ended (COMPLETED, FAILED or TIMEOUT). Payload: its token. */
export const JOB_ENDED_CHANNEL = 'sori_job_ended';

export interface ListenerOptions {
  /** postgres://... (a secret: never logged). */
  url: string;
  logger: Logger;
  /** First and longest wait between two connection attempts. */
  retryMs?: { min: number; max: number };
  /** How often the connection is checked (a cut without a reset is otherwise noticed hours later). */
  pingMs?: number;
}

/** Reconnect backoff: doubling from `min`, capped at `max`. */
export function nextRetryMs(previous: number | undefined, retry: { min: number; max: number }): number {
  return previous === undefined ? retry.min : Math.min(retry.max, previous * 2);
}

/**
 * One LISTEN connection, kept open. Events: `work`, `job-ended` (token), `connected` (after
 * every (re)connection: notifications sent meanwhile were missed).
 */
export class PostgresListener extends EventEmitter {
  private closed = false;
  private client: pg.Client | undefined;
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly options: ListenerOptions) {
    super();
    this.setMaxListeners(0);
  }

  /** Connects in the background; resolves once the first connection listens (or was given up on for now). */
  start(): Promise<void> {
    const first = new Promise<void>((resolve) => {
      this.once('connected', resolve);
      this.once('first-failure', resolve);
    });
    this.loop = this.run();
    return first;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stop.abort();
    await this.client?.end().catch(() => undefined);
    await this.loop;
  }

  private async run(): Promise<void> {
    const retry = this.options.retryMs ?? { min: 500, max: 10_000 };
    let delay: number | undefined;
    let failures = 0;
    while (!this.closed) {
      const client = new pg.Client({
        connectionString: this.options.url,
        connectionTimeoutMillis: 5000,
        query_timeout: 10_000,
        keepAlive: true,
        application_name: 'sori-listen',
      });
      // Without a listener, a connection error would end the process.
      const lost = new Promise<Error | undefined>((resolve) => {
        client.on('error', resolve);
        client.once('end', () => resolve(undefined));
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${WORK_CHANNEL}`);
        await client.query(`LISTEN ${JOB_ENDED_CHANNEL}`);
      } catch (err) {
        await client.end().catch(() => undefined);
        if (this.closed) return;
        failures++;
        if (failures === 1) this.emit('first-failure');
        // Once, then quietly: the job store reports PostgreSQL's absence on every call already.
        if (failures === 1) this.options.logger.warn({ err }, 'job notifications: cannot listen on PostgreSQL; retrying');
        delay = nextRetryMs(delay, retry);
        await this.sleep(delay);
        continue;
      }
      if (failures > 0) this.options.logger.info({ failures }, 'job notifications: listening on PostgreSQL again');
      failures = 0;
      delay = undefined;
      this.client = client;
      client.on('notification', (n) => {
        if (n.channel === WORK_CHANNEL) this.emit('work');
        else if (n.channel === JOB_ENDED_CHANNEL && n.payload) this.emit('job-ended', n.payload);
      });
      this.emit('connected');
      const ping = setInterval(() => {
        // A failed ping ends the connection; `lost` then resolves and the loop reconnects.
        client.query('SELECT 1').catch(() => client.end().catch(() => undefined));
      }, this.options.pingMs ?? 15_000);
      const err = await lost;
      clearInterval(ping);
      this.client = undefined;
      await client.end().catch(() => undefined);
      if (this.closed) return;
      this.options.logger.warn({ err }, 'job notifications: the LISTEN connection was lost; reconnecting');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.stop.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
}
