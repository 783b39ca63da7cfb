/**
 * The sweeper's purge removes a purged job's media through UploadedMedia (this node's disk here;
 * the bucket too in cluster mode: job-media.int.test.ts), and leaves a recent job's alone.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { mediaDir, mediaPath, UploadedMedia } from '../../src/jobs/job-media.js';
import { SqliteJobStore } from '../../src/jobs/sqlite-store.js';
import { JobSweeper } from '../../src/jobs/sweeper.js';
import { testLogger } from '../helpers/test-logs.js';
import { job } from './store-suite.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('JobSweeper', () => {
  it('purges finished jobs past retention with their media', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sori-sweeper-'));
    dirs.push(dir);
    await mkdir(mediaDir(dir), { recursive: true });
    const store = new SqliteJobStore(join(dir, 'sori.db'));
    const now = Date.now();
    const old = now - 10 * 3600_000;
    for (const [token, at] of [['old', old], ['new', now]] as const) {
      await store.create(job(token, at));
      await store.finishUnowned(token, { state: 'COMPLETED', result: {} }, [], at);
      await writeFile(mediaPath(dir, token), 'media');
    }
    const sweeper = new JobSweeper({
      store,
      config: { jobs: { workers: 1, queueLimit: 100, leaseSeconds: 30, maxAttempts: 5, syncTimeoutSeconds: 60, timeoutSeconds: 3600, retentionHours: 1 } },
      media: new UploadedMedia(dir, undefined),
      logger: testLogger('sweeper'),
      isRunning: () => false,
      onFinished: () => undefined,
    });
    try {
      sweeper.start();
      for (let i = 0; i < 100 && (await store.get('old')) !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
      for (let i = 0; i < 100 && (await readdir(mediaDir(dir))).length > 1; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await store.get('old'), undefined);
      assert.deepEqual(await readdir(mediaDir(dir)), ['new']);
      assert.equal((await store.get('new'))?.state, 'COMPLETED');
    } finally {
      sweeper.stop();
      await store.close();
    }
  });
});
