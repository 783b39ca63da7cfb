import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteJobStore } from '../../src/jobs/sqlite-store.js';
import type { NewJob } from '../../src/jobs/store.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sori-store-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function job(token: string, createdAt = 1000): NewJob {
  return { token, domain: 'general', params: { language: 'ko-KR' }, source: { kind: 'url', url: 'http://x/y' }, createdAt };
}

describe('SqliteJobStore', () => {
  it('keeps jobs across reopening the file (WAL, durable)', async () => {
    const file = join(dir, 'reopen.db');
    const a = new SqliteJobStore(file);
    await a.create(job('t1'));
    await a.close();
    const b = new SqliteJobStore(file);
    const got = await b.get('t1');
    assert.equal(got?.state, 'WAITING');
    assert.deepEqual(got?.params, { language: 'ko-KR' });
    assert.deepEqual(got?.source, { kind: 'url', url: 'http://x/y' });
    await b.close();
  });

  it('claims the oldest waiting job once, with a lease and an attempt count', async () => {
    const s = new SqliteJobStore(join(dir, 'claim.db'));
    await s.create(job('late', 2000));
    await s.create(job('early', 1000));
    const first = await s.claim('w1', 10_000, 5000);
    assert.equal(first?.token, 'early');
    assert.equal(first?.state, 'PROCESSING');
    assert.equal(first?.attempts, 1);
    assert.equal(first?.leaseOwner, 'w1');
    const second = await s.claim('w2', 10_000, 5000);
    assert.equal(second?.token, 'late');
    assert.equal(await s.claim('w3', 10_000, 5000), undefined);
    assert.equal(await s.countUnfinished(), 2);
    await s.close();
  });

  it('hands an expired lease to another worker and refuses the old owner afterwards', async () => {
    const s = new SqliteJobStore(join(dir, 'expiry.db'));
    await s.create(job('j'));
    await s.claim('old', 1000, 10_000);
    assert.equal(await s.claim('new', 1000, 10_500), undefined, 'lease still valid');
    const taken = await s.claim('new', 1000, 11_001);
    assert.equal(taken?.leaseOwner, 'new');
    assert.equal(taken?.attempts, 2);
    assert.equal(await s.heartbeat('j', 'old', 1000, 50, 11_002), false);
    assert.equal(await s.checkpoint('j', 'old', 1000, []), false);
    const lateFinish = await s.finish('j', 'old', { state: 'COMPLETED', result: { from: 'old' } }, [], 11_003);
    assert.equal(lateFinish, false, 'the old owner cannot complete the job');
    assert.equal(await s.heartbeat('j', 'new', 1000, 40, 11_004), true);
    assert.ok(await s.finish('j', 'new', { state: 'COMPLETED', result: { from: 'new' } }, [], 11_005));
    assert.equal(await s.finish('j', 'new', { state: 'COMPLETED', result: { from: 'again' } }, [], 11_006), false, 'never completed twice');
    const done = await s.get('j');
    assert.deepEqual(done?.result, { from: 'new' });
    assert.equal(done?.progress, 100);
    await s.close();
  });

  it('is atomic across two connections to the same file (two processes)', async () => {
    const file = join(dir, 'shared.db');
    const a = new SqliteJobStore(file);
    const b = new SqliteJobStore(file);
    for (let i = 0; i < 20; i++) await a.create(job(`j${String(i).padStart(2, '0')}`, 1000 + i));
    const claimed: string[] = [];
    for (let i = 0; i < 20; i++) {
      const x = await (i % 2 === 0 ? a : b).claim(i % 2 === 0 ? 'a' : 'b', 60_000, 5000);
      if (x) claimed.push(x.token);
    }
    assert.equal(new Set(claimed).size, 20);
    await a.close();
    await b.close();
  });

  it('checkpoints resume state and resets attempts (progress proves it is not a poison job)', async () => {
    const s = new SqliteJobStore(join(dir, 'checkpoint.db'));
    await s.create(job('c'));
    await s.claim('w', 1000, 10_000);
    await s.claim('w2', 1000, 20_000);
    assert.ok(await s.checkpoint('c', 'w2', 61_500, [{ start: 0, end: 1000, text: 'x' }]));
    const j = await s.get('c');
    assert.equal(j?.resumeAtMs, 61_500);
    assert.deepEqual(j?.partial, [{ start: 0, end: 1000, text: 'x' }]);
    assert.equal(j?.attempts, 1);
    await s.close();
  });

  it('queues deliveries in the transaction that finishes the job and records every attempt', async () => {
    const s = new SqliteJobStore(join(dir, 'deliveries.db'));
    await s.create(job('d'));
    await s.claim('w', 60_000, 1000);
    await s.finish('d', 'w', { state: 'COMPLETED', result: {} }, [{ kind: 'callback', target: 'http://cb' }], 2000);
    const d1 = await s.claimDelivery('x', 60_000, 2000);
    assert.equal(d1?.target, 'http://cb');
    assert.equal(await s.claimDelivery('y', 60_000, 2000), undefined, 'leased');
    await s.recordAttempt(d1!.id, 'x', { outcome: 'retry', nextAt: 5000, status: 500, error: 'HTTP 500', ms: 3 }, 2001);
    assert.equal(await s.claimDelivery('x', 60_000, 4000), undefined, 'not due yet');
    const d2 = await s.claimDelivery('x', 60_000, 5000);
    assert.equal(d2?.attempts, 1);
    await s.recordAttempt(d2!.id, 'x', { outcome: 'delivered', status: 200, ms: 2 }, 5001);
    const { deliveries, attempts } = await s.deliveries('d');
    assert.equal(deliveries[0].state, 'DELIVERED');
    assert.deepEqual(attempts.map((a) => a.status), [500, 200]);
    assert.equal(await s.claimDelivery('x', 60_000, 9999), undefined);
    await s.close();
  });

  it('releases leases of dead owners at once and purges old finished jobs', async () => {
    const s = new SqliteJobStore(join(dir, 'release.db'));
    await s.create(job('r'));
    await s.claim('dead-one', 60_000, 1000);
    assert.equal(await s.releaseLeases((o) => o === 'dead-one'), 1);
    assert.equal((await s.claim('alive', 60_000, 1001))?.token, 'r');
    await s.finish('r', 'alive', { state: 'FAILED', result: {}, errorCode: 'ERROR_AUDIO_CONVERSION', errorMessage: 'bad' }, [], 2000);
    assert.deepEqual(await s.purge(1500), []);
    assert.deepEqual(await s.purge(2001), ['r']);
    assert.equal(await s.get('r'), undefined);
    await s.close();
  });
  it('lists one domain\'s jobs newest first with state, progress and source, a page at a time', async () => {
    const s = new SqliteJobStore(join(dir, 'list.db'));
    await s.create({ ...job('a', 1000), source: { kind: 'upload', path: '/d/a', filename: 'meeting.m4a' } });
    await s.create(job('b', 3000));
    await s.create(job('c', 2000));
    await s.create({ ...job('other', 4000), domain: 'elsewhere' });
    await s.claim('w', 10_000, 5000);
    await s.heartbeat('a', 'w', 10_000, 40, 5001);
    const all = await s.list('general', { limit: 10, offset: 0 });
    assert.deepEqual(all.map((j) => j.token), ['b', 'c', 'a']);
    const a = all[2];
    assert.equal(a.state, 'PROCESSING');
    assert.equal(a.progress, 40);
    assert.equal(a.createdAt, 1000);
    assert.equal(a.finishedAt, null);
    assert.deepEqual(a.source, { kind: 'upload', path: '/d/a', filename: 'meeting.m4a' });
    assert.deepEqual((await s.list('general', { limit: 2, offset: 0 })).map((j) => j.token), ['b', 'c']);
    assert.deepEqual((await s.list('general', { limit: 2, offset: 2 })).map((j) => j.token), ['a']);
    assert.deepEqual((await s.list('general', { limit: 2, offset: 4 })), []);
    assert.deepEqual((await s.list('elsewhere', { limit: 10, offset: 0 })).map((j) => j.token), ['other']);
    assert.deepEqual(await s.list('nobody', { limit: 10, offset: 0 }), []);
    await s.close();
  });
});
