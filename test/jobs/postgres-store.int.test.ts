/**
 * The PostgreSQL job store against a real PostgreSQL (scripts/postgres.sh, started for this
 * file): the same suite the SQLite store passes, then what only a networked store has to
 * survive: nodes migrating at once, and the server going away and coming back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import pg from 'pg';
import { MIGRATIONS } from '../../src/jobs/postgres-migrations.js';
import { PostgresJobStore } from '../../src/jobs/postgres-store.js';
import { JobStoreUnavailableError } from '../../src/jobs/store.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { testLogger } from '../helpers/test-logs.js';
import { job, storeSuite } from './store-suite.js';

let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.close();
});

let databases = 0;
const logger = testLogger('postgres-store');
const open = (url: string, poolSize = 4) => new PostgresJobStore({ url, poolSize, logger, connectTimeoutMs: 2000 });

storeSuite('PostgresJobStore', {
  async fresh() {
    const url = await server.createDatabase(`suite_${++databases}`);
    return async () => open(url);
  },
});

describe('PostgresJobStore in a cluster', () => {
  it('migrates once when several nodes boot together; the others wait and find the schema ready', async () => {
    const url = await server.createDatabase('boot_together');
    const nodes = Array.from({ length: 4 }, () => open(url));
    try {
      const applied = await Promise.all(nodes.map((n) => n.ready()));
      assert.deepEqual(applied.flat(), MIGRATIONS.map((m) => m.version), 'each migration applied by exactly one node');
      assert.equal(applied.filter((a) => a.length > 0).length, 1);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query<{ version: number }>('SELECT version FROM sori_schema_migrations ORDER BY version');
      await client.end();
      assert.deepEqual(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
      // And every node works on it at once.
      await Promise.all(nodes.map((n, i) => n.create(job(`boot${i}`))));
      assert.equal(await nodes[0].countUnfinished(), 4);
      // A node started later finds nothing to do.
      const late = open(url);
      assert.deepEqual(await late.ready(), []);
      await late.close();
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });

  it('answers with a clear error while PostgreSQL is down, loses no accepted job, and recovers by itself', async () => {
    const url = await server.createDatabase('restart');
    const password = decodeURIComponent(new URL(url).password);
    const store = open(url);
    const other = open(url);
    try {
      for (let i = 0; i < 10; i++) await store.create(job(`kept${i}`, 1000 + i));
      const running = await store.claim('node1', 60_000, 5000);
      assert.equal(running?.token, 'kept0');
      assert.ok(await store.checkpoint('kept0', 'node1', 30_000, [{ text: 'first half' }]));
      await other.get('kept1'); // the other node's pool holds an open connection too

      // A crash, not a clean shutdown: what was committed must come back from the WAL.
      await server.stop('immediate');
      for (const call of [
        () => store.create(job('while-down')),
        () => store.get('kept1'),
        () => store.claim('node1', 60_000, 6000),
        () => store.heartbeat('kept0', 'node1', 60_000, 50, 6000),
        () => store.finish('kept0', 'node1', { state: 'COMPLETED', result: {} }, [{ kind: 'callback', target: 'http://cb' }], 6000),
        () => other.countUnfinished(),
      ]) {
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(err instanceof JobStoreUnavailableError, `expected JobStoreUnavailableError, got ${String(err)}`);
          assert.match(err.message, new RegExp(`^job store unavailable: PostgreSQL at 127\\.0\\.0\\.1:${server.port}/restart: `));
          assert.ok(!err.message.includes(password), 'the password is never in the message');
          return true;
        });
      }

      await server.start();
      // The same stores, not reopened: their pools dropped the dead connections and open new ones.
      assert.equal(await other.countUnfinished(), 10, 'every accepted job is still there');
      const resumed = await store.get('kept0');
      assert.equal(resumed?.state, 'PROCESSING');
      assert.equal(resumed?.leaseOwner, 'node1');
      assert.equal(resumed?.resumeAtMs, 30_000);
      assert.deepEqual(resumed?.partial, [{ text: 'first half' }]);
      assert.equal(await store.get('while-down'), undefined, 'the refused create stored nothing');
      await store.create(job('after', 9000));
      assert.ok(await store.heartbeat('kept0', 'node1', 60_000, 50, 7000));
      assert.ok(await store.finish('kept0', 'node1', { state: 'COMPLETED', result: { ok: true } }, [{ kind: 'callback', target: 'http://cb' }], 7000));
      assert.equal((await other.deliveries('kept0')).deliveries.length, 1);
      assert.equal((await other.claim('node2', 60_000, 8000))?.token, 'kept1');
    } finally {
      await store.close();
      await other.close();
    }
  });

  it('fails a call clearly when PostgreSQL hangs (frozen, or cut off without a reset) instead of waiting forever', async () => {
    const url = await server.createDatabase('frozen');
    const store = new PostgresJobStore({ url, poolSize: 2, logger, connectTimeoutMs: 1000, queryTimeoutMs: 1000 });
    try {
      await store.create(job('f'));
      await server.freeze();
      try {
        const started = Date.now();
        await assert.rejects(store.get('f'), (err: unknown) => err instanceof JobStoreUnavailableError && /Query read timeout|timeout/.test(err.message));
        await assert.rejects(store.claim('w', 1000, 2000), JobStoreUnavailableError);
        assert.ok(Date.now() - started < 30_000, 'each call ends at its timeout');
      } finally {
        await server.thaw();
      }
      // A call that timed out may still have been applied once the server woke (a claim then
      // holds a lease nobody renews): past any such lease, the job is claimable again.
      assert.equal((await store.claim('w', 1000, 10_000))?.token, 'f', 'works again once the server answers');
    } finally {
      await store.close();
    }
  });

  it('survives its connection being reset in the middle of a transaction (the error is the call\'s, not the process\'s)', async () => {
    const url = await server.createDatabase('cut');
    // The store reaches PostgreSQL through a TCP relay this test can cut with a reset, as a
    // network failure would (no goodbye from the server first).
    const sockets = new Set<Socket>();
    const relay = createServer((downstream) => {
      const upstream = connect(server.port, '127.0.0.1');
      for (const [a, b] of [[downstream, upstream], [upstream, downstream]] as const) {
        sockets.add(a);
        a.on('error', () => b.destroy());
        a.pipe(b);
      }
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const relayed = new URL(url);
    relayed.port = String((relay.address() as AddressInfo).port);
    const store = open(relayed.href);
    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    // An 'error' event nobody listens to would be thrown here, not into the call.
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown): void => void uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      await store.create(job('cut'));
      await store.claim('w', 60_000, 1000);
      // Another session holds the job's row, so finishing waits inside its transaction.
      await locker.query('BEGIN');
      await locker.query(`SELECT token FROM jobs WHERE token = 'cut' FOR UPDATE`);
      const finishing = store.finish('cut', 'w', { state: 'COMPLETED', result: {} }, [{ kind: 'callback', target: 'http://cb' }], 2000);
      let waiting = false;
      for (let i = 0; i < 100 && !waiting; i++) {
        const { rows } = await locker.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'sori' AND wait_event_type = 'Lock'`);
        waiting = rows.length > 0;
        if (!waiting) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(waiting, 'the finish is waiting on the lock');
      for (const socket of sockets) socket.resetAndDestroy();
      await assert.rejects(finishing, JobStoreUnavailableError);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(uncaught.map(String), [], 'nothing escaped to the process');
      await locker.query('ROLLBACK');
      // PostgreSQL notices the dead session and rolls its transaction back; until then the row
      // stays locked, so the retry may wait a moment.
      assert.ok(await store.finish('cut', 'w', { state: 'COMPLETED', result: {} }, [{ kind: 'callback', target: 'http://cb' }], 3000), 'the same call succeeds on a new connection');
      assert.equal((await store.deliveries('cut')).deliveries.length, 1, 'the cut transaction left nothing behind');
    } finally {
      process.off('uncaughtException', onUncaught);
      await locker.end();
      await store.close();
      relay.close();
    }
  });

  it('starts while PostgreSQL is down: fails clearly, then migrates once it is up', async () => {
    const url = await server.createDatabase('boot_down');
    await server.stop();
    const store = open(url);
    try {
      await assert.rejects(store.ready(), JobStoreUnavailableError);
      await assert.rejects(store.create(job('x')), JobStoreUnavailableError);
      await server.start();
      assert.deepEqual(await store.ready(), MIGRATIONS.map((m) => m.version));
      await store.create(job('x'));
      assert.equal((await store.get('x'))?.state, 'WAITING');
    } finally {
      await store.close();
    }
  });

  it('passes other errors through as they are (a bug is not an outage)', async () => {
    const url = await server.createDatabase('other_errors');
    const store = open(url);
    try {
      await store.create(job('same'));
      await assert.rejects(store.create(job('same')), (err: unknown) => !(err instanceof JobStoreUnavailableError) && (err as { code?: string }).code === '23505');
    } finally {
      await store.close();
    }
  });
});
