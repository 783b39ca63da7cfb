/**
 * The JobStore contract as one suite every backend passes: SQLite (sqlite-store.test.ts) and
 * PostgreSQL (postgres-store.int.test.ts). A backend gives a fresh database per test and opens
 * any number of stores on it, as several processes or nodes would.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { JobStore, NewJob } from '../../src/jobs/store.js';

export interface StoreBackend {
  /** A new, empty database; the function it returns opens a store on it (call it again for another connection). */
  fresh(): Promise<() => Promise<JobStore>>;
}

export function job(token: string, createdAt = 1000): NewJob {
  return { token, domain: 'general', params: { language: 'ko-KR' }, source: { kind: 'url', url: 'http://x/y' }, createdAt };
}

const tokens = (n: number, prefix = 'j'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);

/** Claims until the store has nothing due, `loops` claimers at once; returns what each claim got. */
async function claimAll(store: JobStore, owner: string, loops: number, now: number): Promise<string[]> {
  const got: string[] = [];
  await Promise.all(
    Array.from({ length: loops }, async (_, i) => {
      for (;;) {
        const j = await store.claim(`${owner}-${i}`, 60_000, now);
        if (j === undefined) return;
        got.push(j.token);
      }
    }),
  );
  return got;
}

export function storeSuite(name: string, backend: StoreBackend): void {
  describe(name, () => {
    const opened: JobStore[] = [];
    /** A fresh database and the opener of stores on it; every store is closed after the test. */
    const database = async (): Promise<() => Promise<JobStore>> => {
      const open = await backend.fresh();
      return async () => {
        const s = await open();
        opened.push(s);
        return s;
      };
    };
    afterEach(async () => {
      // Closed already by the test where it mattered; a second close is harmless to ignore.
      for (const s of opened.splice(0)) await s.close().catch(() => undefined);
    });

    it('keeps jobs across reopening the database (durable)', async () => {
      const open = await database();
      const a = await open();
      await a.create(job('t1'));
      await a.close();
      const b = await open();
      const got = await b.get('t1');
      assert.equal(got?.state, 'WAITING');
      assert.deepEqual(got?.params, { language: 'ko-KR' });
      assert.deepEqual(got?.source, { kind: 'url', url: 'http://x/y' });
      assert.equal(got?.createdAt, 1000);
      assert.equal(got?.resumeAtMs, 0);
      assert.equal(got?.partial, null);
      assert.equal(await b.get('nope'), undefined);
    });

    it('refuses a second job with the same token', async () => {
      const s = await (await database())();
      await s.create(job('dup'));
      await assert.rejects(s.create(job('dup')));
      assert.equal(await s.countUnfinished(), 1);
    });

    it('claims the oldest waiting job once, with a lease and an attempt count', async () => {
      const s = await (await database())();
      await s.create(job('late', 2000));
      await s.create(job('early', 1000));
      const first = await s.claim('w1', 10_000, 5000);
      assert.equal(first?.token, 'early');
      assert.equal(first?.state, 'PROCESSING');
      assert.equal(first?.attempts, 1);
      assert.equal(first?.leaseOwner, 'w1');
      assert.equal(first?.leaseUntil, 15_000);
      assert.equal(first?.startedAt, 5000);
      const second = await s.claim('w2', 10_000, 5000);
      assert.equal(second?.token, 'late');
      assert.equal(await s.claim('w3', 10_000, 5000), undefined);
      assert.equal(await s.countUnfinished(), 2);
    });

    it('hands an expired lease to another worker and refuses the old owner afterwards', async () => {
      const s = await (await database())();
      await s.create(job('j'));
      await s.claim('old', 1000, 10_000);
      assert.equal(await s.claim('new', 1000, 10_500), undefined, 'lease still valid');
      const taken = await s.claim('new', 1000, 11_001);
      assert.equal(taken?.leaseOwner, 'new');
      assert.equal(taken?.attempts, 2);
      assert.equal(taken?.startedAt, 10_000, 'started when first claimed');
      assert.equal(await s.heartbeat('j', 'old', 1000, 50, 11_002), false);
      assert.equal(await s.checkpoint('j', 'old', 1000, []), false);
      const lateFinish = await s.finish('j', 'old', { state: 'COMPLETED', result: { from: 'old' } }, [], 11_003);
      assert.equal(lateFinish, false, 'the old owner cannot complete the job');
      assert.equal(await s.heartbeat('j', 'new', 1000, 40, 11_004), true);
      assert.equal((await s.get('j'))?.leaseUntil, 12_004);
      assert.ok(await s.finish('j', 'new', { state: 'COMPLETED', result: { from: 'new' } }, [], 11_005));
      assert.equal(await s.finish('j', 'new', { state: 'COMPLETED', result: { from: 'again' } }, [], 11_006), false, 'never completed twice');
      const done = await s.get('j');
      assert.deepEqual(done?.result, { from: 'new' });
      assert.equal(done?.progress, 100);
      assert.equal(done?.finishedAt, 11_005);
      assert.equal(done?.leaseOwner, null);
      assert.equal(await s.countUnfinished(), 0);
    });

    it('keeps the highest progress a heartbeat reported', async () => {
      const s = await (await database())();
      await s.create(job('p'));
      await s.claim('w', 60_000, 1000);
      assert.ok(await s.heartbeat('p', 'w', 60_000, 41.6, 2000));
      assert.ok(await s.heartbeat('p', 'w', 60_000, 10, 3000));
      assert.equal((await s.get('p'))?.progress, 42);
    });

    it('is atomic across two connections to the same database (two processes)', async () => {
      const open = await database();
      const a = await open();
      const b = await open();
      for (let i = 0; i < 20; i++) await a.create(job(`j${String(i).padStart(2, '0')}`, 1000 + i));
      const claimed: string[] = [];
      for (let i = 0; i < 20; i++) {
        const x = await (i % 2 === 0 ? a : b).claim(i % 2 === 0 ? 'a' : 'b', 60_000, 5000);
        if (x) claimed.push(x.token);
      }
      assert.equal(new Set(claimed).size, 20);
    });

    it('never gives one job to two stores claiming at once', async () => {
      const open = await database();
      const a = await open();
      const b = await open();
      const all = tokens(60);
      for (const [i, t] of all.entries()) await a.create(job(t, 1000 + i));
      const [fromA, fromB] = await Promise.all([claimAll(a, 'a', 8, 5000), claimAll(b, 'b', 8, 5000)]);
      const claimed = [...fromA, ...fromB];
      assert.equal(claimed.length, all.length, 'one claim per job');
      assert.deepEqual([...claimed].sort(), all);
      for (const t of all) {
        const j = await a.get(t);
        assert.equal(j?.attempts, 1, `${t} claimed once`);
        assert.ok(fromA.includes(t) ? j?.leaseOwner?.startsWith('a-') : j?.leaseOwner?.startsWith('b-'));
      }
    });

    it('completes a job once when its old owner finishes while another store takes the expired lease', async () => {
      const open = await database();
      const a = await open();
      const b = await open();
      for (let i = 0; i < 20; i++) {
        const t = `race${i}`;
        await a.create(job(t, i));
        assert.equal((await a.claim('old', 1000, 10_000))?.token, t);
        const [finished, taken] = await Promise.all([
          a.finish(t, 'old', { state: 'COMPLETED', result: { by: 'old' } }, [{ kind: 'callback', target: 'http://cb' }], 11_500),
          b.claim('new', 1000, 11_500),
        ]);
        assert.notEqual(finished, taken?.token === t, `exactly one of finish and takeover wins (${t})`);
        if (taken !== undefined) {
          assert.ok(await b.finish(t, 'new', { state: 'COMPLETED', result: { by: 'new' } }, [{ kind: 'callback', target: 'http://cb' }], 11_600));
        }
        const { deliveries } = await a.deliveries(t);
        assert.equal(deliveries.length, 1, 'one callback queued');
        assert.equal((await a.get(t))?.state, 'COMPLETED');
      }
    });

    it('checkpoints resume state and resets attempts (progress proves it is not a poison job)', async () => {
      const s = await (await database())();
      await s.create(job('c'));
      await s.claim('w', 1000, 10_000);
      await s.claim('w2', 1000, 20_000);
      assert.ok(await s.checkpoint('c', 'w2', 61_500.4, [{ start: 0, end: 1000, text: 'x' }]));
      const j = await s.get('c');
      assert.equal(j?.resumeAtMs, 61_500);
      assert.deepEqual(j?.partial, [{ start: 0, end: 1000, text: 'x' }]);
      assert.equal(j?.attempts, 1);
      // Finishing drops the checkpoint: it is no longer needed.
      assert.ok(await s.finish('c', 'w2', { state: 'COMPLETED', result: {} }, [], 21_000));
      assert.equal((await s.get('c'))?.partial, null);
    });

    it('keeps text and JSON exactly as given (Korean, quotes, control characters, key order)', async () => {
      const s = await (await database())();
      const params = { language: 'ko-KR', boostings: [{ words: '하나님, "예수"\n\t\u0000' }], z: 1, a: 2 };
      await s.create({ ...job('u'), params });
      await s.claim('w', 60_000, 1000);
      const result = { text: '안녕하세요 😀', segments: [{ start: 0, end: 1, text: '\\' }], b: null, a: [] };
      await s.finish('u', 'w', { state: 'COMPLETED', result }, [], 2000);
      const j = await s.get('u');
      assert.deepEqual(j?.params, params);
      assert.equal(JSON.stringify(j?.params), JSON.stringify(params), 'key order kept');
      assert.equal(JSON.stringify(j?.result), JSON.stringify(result));
    });

    it('ends a job nobody holds (waiting, or its lease lapsed), never one a live lease holds', async () => {
      const s = await (await database())();
      await s.create(job('held', 1000));
      await s.create(job('lapsed', 2000));
      assert.equal((await s.claim('w', 10_000, 5000))?.token, 'held');
      assert.equal((await s.claim('w', 1000, 5000))?.token, 'lapsed');
      await s.create(job('waiting', 3000));
      assert.deepEqual((await s.listOverdue(2500)).sort(), ['held', 'lapsed']);
      assert.deepEqual((await s.listOverdue(99_999)).sort(), ['held', 'lapsed', 'waiting']);
      const timeout = { state: 'TIMEOUT' as const, result: { result: 'ERROR_GATEWAY_TIMEOUT' }, errorCode: 'ERROR_GATEWAY_TIMEOUT', errorMessage: 'late' };
      assert.equal(await s.finishUnowned('held', timeout, [], 7000), false, 'its lease is live');
      assert.ok(await s.finishUnowned('lapsed', timeout, [{ kind: 'callback', target: 'http://cb' }], 7000));
      assert.ok(await s.finishUnowned('waiting', timeout, [], 7000));
      assert.equal(await s.finishUnowned('lapsed', timeout, [], 7001), false, 'already ended');
      assert.equal(await s.claim('x', 1000, 7002), undefined, 'nothing left to claim');
      assert.deepEqual(await s.listOverdue(99_999), ['held']);
      const lapsed = await s.get('lapsed');
      assert.equal(lapsed?.state, 'TIMEOUT');
      assert.equal(lapsed?.errorCode, 'ERROR_GATEWAY_TIMEOUT');
      assert.equal(lapsed?.errorMessage, 'late');
      assert.equal(lapsed?.progress, 0, 'only a completed job is at 100');
      assert.equal((await s.deliveries('lapsed')).deliveries.length, 1);
      assert.equal(await s.heartbeat('lapsed', 'w', 1000, 50, 7003), false);
    });

    it('queues deliveries in the transaction that finishes the job and records every attempt', async () => {
      const s = await (await database())();
      await s.create(job('d'));
      await s.claim('w', 60_000, 1000);
      await s.finish('d', 'w', { state: 'COMPLETED', result: {} }, [
        { kind: 'callback', target: 'http://cb' }, { kind: 'object-storage', target: 'sori-results/d.json' },
      ], 2000);
      const d1 = await s.claimDelivery('x', 60_000, 2000);
      assert.equal(d1?.target, 'http://cb');
      assert.equal(d1?.kind, 'callback');
      assert.equal(d1?.state, 'PENDING');
      assert.equal(d1?.createdAt, 2000);
      const o1 = await s.claimDelivery('y', 60_000, 2000);
      assert.equal(o1?.kind, 'object-storage');
      assert.equal(await s.claimDelivery('y', 60_000, 2000), undefined, 'leased');
      await s.recordAttempt(o1!.id, 'y', { outcome: 'delivered', status: null, ms: 1.4 }, 2001);
      await s.recordAttempt(d1!.id, 'x', { outcome: 'retry', nextAt: 5000, status: 500, error: 'HTTP 500', ms: 3 }, 2001);
      assert.equal(await s.claimDelivery('x', 60_000, 4000), undefined, 'not due yet');
      const d2 = await s.claimDelivery('x', 60_000, 5000);
      assert.equal(d2?.attempts, 1);
      await s.recordAttempt(d2!.id, 'x', { outcome: 'delivered', status: 200, ms: 2 }, 5001);
      const { deliveries, attempts } = await s.deliveries('d');
      assert.deepEqual(deliveries.map((d) => [d.kind, d.state, d.attempts, d.deliveredAt]), [
        ['callback', 'DELIVERED', 2, 5001], ['object-storage', 'DELIVERED', 1, 2001],
      ]);
      assert.deepEqual(attempts.map((a) => [a.kind, a.status, a.error, a.ms]), [
        ['object-storage', null, null, 1], ['callback', 500, 'HTTP 500', 3], ['callback', 200, null, 2],
      ]);
      assert.equal(attempts[1].deliveryId, d1!.id);
      assert.equal(await s.claimDelivery('x', 60_000, 9999), undefined);
    });

    it('gives up a delivery, and ignores an attempt recorded under a lease that passed on', async () => {
      const s = await (await database())();
      await s.create(job('g'));
      await s.claim('w', 60_000, 1000);
      await s.finish('g', 'w', { state: 'FAILED', result: {} }, [{ kind: 'callback', target: 'http://cb' }], 2000);
      const first = await s.claimDelivery('slow', 1000, 2000);
      const second = await s.claimDelivery('fast', 1000, 3001);
      assert.equal(second?.id, first?.id, 'the lapsed delivery lease is taken again');
      await s.recordAttempt(first!.id, 'slow', { outcome: 'delivered', status: 200, ms: 1 }, 3002);
      assert.equal((await s.deliveries('g')).deliveries[0].state, 'PENDING', 'not the lease holder');
      await s.recordAttempt(second!.id, 'fast', { outcome: 'gave-up', status: 404, error: 'HTTP 404', ms: 1 }, 3003);
      const { deliveries, attempts } = await s.deliveries('g');
      assert.equal(deliveries[0].state, 'GAVE_UP');
      assert.equal(attempts.length, 2, 'both attempts are on record');
      await s.recordAttempt(99_999, 'fast', { outcome: 'delivered', status: 200, ms: 1 }, 3004);
    });

    it('never gives one delivery to two stores claiming at once', async () => {
      const open = await database();
      const a = await open();
      const b = await open();
      for (const t of tokens(10, 'd')) {
        await a.create(job(t));
        await a.claim('w', 60_000, 1000);
        await a.finish(t, 'w', { state: 'COMPLETED', result: {} }, [{ kind: 'callback', target: `http://cb/${t}` }], 2000);
      }
      const claimDeliveries = async (s: JobStore, owner: string): Promise<number[]> => {
        const got: number[] = [];
        await Promise.all(Array.from({ length: 5 }, async () => {
          for (let d = await s.claimDelivery(owner, 60_000, 3000); d !== undefined; d = await s.claimDelivery(owner, 60_000, 3000)) got.push(d.id);
        }));
        return got;
      };
      const [fromA, fromB] = await Promise.all([claimDeliveries(a, 'a'), claimDeliveries(b, 'b')]);
      const ids = [...fromA, ...fromB];
      assert.equal(ids.length, 10);
      assert.equal(new Set(ids).size, 10);
    });

    it('releases leases of dead owners at once and purges old finished jobs', async () => {
      const s = await (await database())();
      await s.create(job('r'));
      await s.create(job('alive-job', 2000));
      await s.claim('dead-one', 60_000, 1000);
      await s.claim('alive', 60_000, 1000);
      assert.equal(await s.releaseLeases((o) => o === 'dead-one'), 1);
      assert.equal(await s.releaseLeases(() => false), 0);
      const taken = await s.claim('alive', 60_000, 1001);
      assert.equal(taken?.token, 'r');
      assert.equal(taken?.attempts, 2);
      await s.finish('r', 'alive', { state: 'FAILED', result: {}, errorCode: 'ERROR_AUDIO_CONVERSION', errorMessage: 'bad' }, [], 2000);
      assert.deepEqual(await s.purge(1500), []);
      assert.deepEqual(await s.purge(2001), ['r']);
      assert.equal(await s.get('r'), undefined);
      assert.equal((await s.get('alive-job'))?.state, 'PROCESSING', 'unfinished jobs are never purged');
    });

    it('releases a dead owner\'s delivery leases too', async () => {
      const s = await (await database())();
      await s.create(job('dl'));
      await s.claim('w', 60_000, 1000);
      await s.finish('dl', 'w', { state: 'COMPLETED', result: {} }, [{ kind: 'callback', target: 'http://cb' }], 2000);
      await s.claimDelivery('dead-one', 60_000, 2000);
      assert.equal(await s.claimDelivery('x', 60_000, 2001), undefined);
      await s.releaseLeases((o) => o === 'dead-one');
      assert.equal((await s.claimDelivery('x', 60_000, 2001))?.target, 'http://cb');
    });

    it('keeps a finished job with a pending delivery until the delivery ends, then purges it with its history', async () => {
      const s = await (await database())();
      await s.create(job('k'));
      await s.claim('w', 60_000, 1000);
      await s.finish('k', 'w', { state: 'COMPLETED', result: {} }, [{ kind: 'callback', target: 'http://cb' }], 2000);
      assert.deepEqual(await s.purge(10_000), [], 'its callback is still pending');
      const d = await s.claimDelivery('x', 60_000, 3000);
      await s.recordAttempt(d!.id, 'x', { outcome: 'delivered', status: 200, ms: 1 }, 3001);
      assert.deepEqual(await s.purge(10_000), ['k']);
      assert.deepEqual(await s.deliveries('k'), { deliveries: [], attempts: [] });
    });

    it('lists one domain\'s jobs newest first with state, progress and source, a page at a time', async () => {
      const s = await (await database())();
      await s.create({ ...job('a', 1000), source: { kind: 'upload', path: '/d/a', filename: 'meeting.m4a' } });
      await s.create(job('b', 3000));
      await s.create(job('c', 2000));
      await s.create({ ...job('other', 4000), domain: 'elsewhere' });
      await s.claim('w', 10_000, 5000);
      await s.heartbeat('a', 'w', 10_000, 40, 5001);
      const all = await s.list('general', { limit: 10, offset: 0 });
      assert.deepEqual(all.map((j) => j.token), ['b', 'c', 'a']);
      assert.deepEqual(all[2], {
        token: 'a', state: 'PROCESSING', progress: 40, createdAt: 1000, finishedAt: null, source: { kind: 'upload', path: '/d/a', filename: 'meeting.m4a' },
      });
      assert.deepEqual((await s.list('general', { limit: 2, offset: 0 })).map((j) => j.token), ['b', 'c']);
      assert.deepEqual((await s.list('general', { limit: 2, offset: 2 })).map((j) => j.token), ['a']);
      assert.deepEqual(await s.list('general', { limit: 2, offset: 4 }), []);
      assert.deepEqual((await s.list('elsewhere', { limit: 10, offset: 0 })).map((j) => j.token), ['other']);
      assert.deepEqual(await s.list('nobody', { limit: 10, offset: 0 }), []);
    });
  });
}
