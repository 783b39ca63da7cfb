/**
 * Stream slots counted in PostgreSQL (cluster mode) against a real server: two nodes (two stores,
 * two owners) share one domain's limit; slots taken at once never exceed it; a node SIGKILLed
 * while holding a slot stops counting once its lease lapses (and at once for a node that starts
 * on the same host); the heartbeat keeps a live node's slot held past its lease.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { DomainConfig } from '../../src/config.js';
import { newOwnerId } from '../../src/jobs/owner.js';
import { PostgresJobStore } from '../../src/jobs/postgres-store.js';
import { PostgresStreamSlots } from '../../src/stream/postgres-stream-slots.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { testLogger } from '../helpers/test-logs.js';

const FIXTURE = resolve(fileURLToPath(new URL('.', import.meta.url)), 'hold-stream-slot.ts');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const limits = { shortMaxSeconds: 60, shortMaxBytes: 1 << 20, requestsPerSecond: 0, maxConcurrentUploads: 16 };
const domain = (name: string, maxConcurrentStreams: number): DomainConfig => ({
  name, secret: `${name}-unused`, defaultLanguage: 'ko', limits: { ...limits, maxConcurrentStreams },
});

let postgres: PostgresServer;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  postgres = await startPostgres();
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await postgres?.close();
});

async function node(url: string, leaseMs: number, name: string): Promise<{ store: PostgresJobStore; slots: PostgresStreamSlots }> {
  const store = new PostgresJobStore({ url, poolSize: 4 });
  const slots = new PostgresStreamSlots({ store, owner: newOwnerId(), leaseMs, logger: testLogger(`stream-slots-${name}`) });
  await slots.start();
  cleanups.push(async () => {
    await slots.close();
    await store.close();
  });
  return { store, slots };
}

describe('PostgresStreamSlots', () => {
  it("two nodes share one domain's limit; a release frees the slot for the other", async () => {
    const url = await postgres.createDatabase('share');
    const a = await node(url, 10_000, 'a');
    const b = await node(url, 10_000, 'b');
    const one = domain('general', 1);
    const held = await a.slots.take(one);
    assert.ok(held, 'node a takes the only slot');
    assert.equal(await b.slots.take(one), undefined, 'node b is refused');
    assert.equal(await a.slots.take(one), undefined, 'node a too');
    // Another domain has its own count.
    assert.ok(await b.slots.take(domain('other', 1)));
    held();
    held(); // twice is harmless
    let again: (() => void) | undefined;
    for (let i = 0; i < 50 && again === undefined; i++) {
      again = await b.slots.take(one);
      if (again === undefined) await pause(50);
    }
    assert.ok(again, 'node b takes it once node a released it');
  });

  it('slots taken at once on two nodes never exceed the limit', async () => {
    const url = await postgres.createDatabase('race');
    const a = await node(url, 10_000, 'race-a');
    const b = await node(url, 10_000, 'race-b');
    const three = domain('general', 3);
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? a : b).slots.take(three)));
    assert.equal(results.filter((r) => r !== undefined).length, 3);
    const { rows } = await a.store.query<{ n: number }>("SELECT count(*)::int AS n FROM stream_slots WHERE domain = 'general'");
    assert.equal(rows[0].n, 3);
  });

  it("the heartbeat keeps a live node's slot past its lease", async () => {
    const url = await postgres.createDatabase('renew');
    const a = await node(url, 1000, 'renew-a');
    const b = await node(url, 1000, 'renew-b');
    const one = domain('general', 1);
    assert.ok(await a.slots.take(one));
    await pause(3500);
    assert.equal(await b.slots.take(one), undefined, 'still held after three leases');
  });

  it("a SIGKILLed node's slot stops counting after its lease; a node starting on its host frees it at once", async (t) => {
    const url = await postgres.createDatabase('killed');
    const leaseMs = 2000;
    const hold = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
        env: { ...process.env, SORI_DATABASE_URL: url, SLOT_LEASE_MS: String(leaseMs) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      cleanups.push(async () => child.kill('SIGKILL'));
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      assert.equal(line.toString().trim(), 'held');
      return child;
    };
    const b = await node(url, leaseMs, 'killed-b');
    const one = domain('general', 1);

    const first = await hold();
    // Past the lease: the child's heartbeat renews it.
    await pause(leaseMs + 500);
    assert.equal(await b.slots.take(one), undefined, 'held by a live process');
    first.kill('SIGKILL');
    await once(first, 'exit');
    const killedAt = Date.now();
    assert.equal(await b.slots.take(one), undefined, 'still counted just after the kill');
    let taken: (() => void) | undefined;
    for (let i = 0; i < 100 && taken === undefined; i++) {
      await pause(100);
      taken = await b.slots.take(one);
    }
    assert.ok(taken, 'taken once the lease lapsed');
    const after = Date.now() - killedAt;
    t.diagnostic(`lease ${leaseMs} ms: the slot was taken over ${after} ms after the SIGKILL`);
    taken();

    // A node starting on this host drops a dead local process's slots without waiting.
    const second = await hold();
    second.kill('SIGKILL');
    await once(second, 'exit');
    const c = await node(url, 60_000, 'killed-c');
    assert.ok(await c.slots.take(one), 'freed by the new node as it started');
  });
});
