/**
 * LISTEN/NOTIFY between nodes against a real PostgreSQL: what one store commits (a job created,
 * a job ended with deliveries) reaches every node's listener, and a listener whose connection
 * PostgreSQL dropped (a crash and restart) reconnects by itself, says so (`connected`), and
 * hears the next notifications.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { PostgresListener } from '../../src/jobs/postgres-notifications.js';
import { PostgresJobStore } from '../../src/jobs/postgres-store.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { testLogger } from '../helpers/test-logs.js';
import { job } from './store-suite.js';

let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.close();
});

const logger = testLogger('postgres-notifications');

/** Resolves with the first `event` the emitter emits whose first argument passes `match`. */
function next<T>(emitter: PostgresListener, event: string, match: (arg: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const on = (arg: T): void => {
      if (!match(arg)) return;
      emitter.off(event, on);
      resolve(arg);
    };
    emitter.on(event, on);
  });
}

describe('PostgresListener', () => {
  it('hears every node\'s new jobs and ended jobs, sent when their transactions commit', { timeout: 60_000 }, async () => {
    const url = await server.createDatabase('notify_nodes');
    const store = new PostgresJobStore({ url, poolSize: 2, logger });
    await store.ready();
    const listeners = [new PostgresListener({ url, logger }), new PostgresListener({ url, logger })];
    try {
      await Promise.all(listeners.map((l) => l.start()));
      const woken = listeners.map((l) => next(l, 'work'));
      await store.create(job('n1', 1000));
      await Promise.all(woken);

      const claimed = await store.claim('node-a', 30_000, 2000);
      assert.equal(claimed?.token, 'n1');
      const ended = listeners.map((l) => next<string>(l, 'job-ended'));
      const deliveriesDue = listeners.map((l) => next(l, 'work'));
      const outcome = { state: 'COMPLETED' as const, result: { result: 'COMPLETED' } };
      assert.equal(await store.finish('n1', 'node-a', outcome, [{ kind: 'callback', target: 'http://x/cb' }], 3000), true);
      assert.deepEqual(await Promise.all(ended), ['n1', 'n1']);
      await Promise.all(deliveriesDue);

      // A job nobody holds, ended by a sweeper: the same notification.
      await store.create(job('n2', 4000));
      const timedOut = next<string>(listeners[0], 'job-ended', (t) => t === 'n2');
      assert.equal(await store.finishUnowned('n2', { state: 'TIMEOUT', result: {} }, [], 5000), true);
      assert.equal(await timedOut, 'n2');
    } finally {
      await Promise.all(listeners.map((l) => l.close()));
      await store.close();
    }
  });

  it('reconnects by itself after PostgreSQL crashed and came back, and hears notifications again', { timeout: 120_000 }, async () => {
    const url = await server.createDatabase('notify_restart');
    const store = new PostgresJobStore({ url, poolSize: 2, logger });
    await store.ready();
    const listener = new PostgresListener({ url, logger, retryMs: { min: 100, max: 500 }, pingMs: 500 });
    try {
      await listener.start();
      await server.stop('immediate');
      const reconnected = once(listener, 'connected');
      await server.start();
      await reconnected;
      const woken = next(listener, 'work');
      // The store's pool may still hold a connection the crash broke: its first call may fail.
      for (let i = 0; ; i++) {
        try {
          await store.create(job('after-restart', 1000));
          break;
        } catch (err) {
          if (i >= 20) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      await woken;
    } finally {
      await listener.close();
      await store.close();
    }
  });

  it('close() ends it while PostgreSQL is unreachable (no connection, retrying)', { timeout: 30_000 }, async () => {
    const listener = new PostgresListener({ url: 'postgres://sori:x@127.0.0.1:1/none', logger, retryMs: { min: 50, max: 100 } });
    await listener.start();
    await listener.close();
  });
});
