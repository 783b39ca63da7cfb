/**
 * The data directory's disk filling up, for real: a small tmpfs mounted as the data dir (needs
 * root, as CI runs; skipped with a message otherwise). An upload that does not fit is refused
 * cleanly (503 ERROR_SERVER_BUSY, nothing left on disk, no job), and a job whose disk fills while
 * it runs is neither lost nor stored half: it completes once there is room again.
 */
import assert from 'node:assert/strict';
import { open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'libsql';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { answer, type Answer } from '../../helpers/answer.js';
import { testdataDir } from '../../helpers/media-fixtures.js';
import { mountTmpfs } from '../../helpers/tmpfs.js';
import { postStt, startServer, testConfig, testDomain, testEngine, type TestServer } from '../../helpers/server.js';

const KEY = 'disk-full-secret';
const JFK = join(testdataDir(), 'en/jfk.flac');
const DISK_MB = 24;

/** Writes zeros until the disk is full; returns the file (remove it to free the space). */
async function fillDisk(dir: string): Promise<string> {
  const path = join(dir, 'filler');
  const file = await open(path, 'w');
  const block = Buffer.alloc(64 * 1024);
  try {
    for (;;) await file.write(block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await file.close();
  }
  return path;
}

function jobRows(dataDir: string): number {
  const db = new Database(join(dataDir, 'sori.db'), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function upload(server: TestServer, media: Uint8Array<ArrayBuffer>, completion: 'sync' | 'async'): Promise<Answer & { retryAfter: string | null }> {
  const form = new FormData();
  form.append('media', new Blob([media]), 'media.flac');
  form.append('params', JSON.stringify({ language: 'en-US', completion }));
  const res = await fetch(`${server.url}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY }, body: form });
  return { ...(await answer(res)), retryAfter: res.headers.get('retry-after') };
}

async function job(server: TestServer, token: string): Promise<Record<string, unknown>> {
  return (await fetch(`${server.url}/recognizer/${token}`, { headers: { 'X-CLOVASPEECH-API-KEY': KEY } }).then(answer)).body;
}

const mounted = await mountTmpfs(DISK_MB);
const skip = typeof mounted === 'string' ? mounted : false;

let engine: SpeechEngine;
let server: TestServer;
let dataDir: string;

before(async () => {
  if (typeof mounted === 'string') return;
  dataDir = mounted.dir;
  engine = testEngine();
  const config = testConfig([testDomain('general', KEY)]);
  config.dataDir = dataDir;
  // A lost lease comes back quickly, so a job stuck on a full disk is picked up again soon.
  config.jobs.leaseSeconds = 2;
  // The refused upload's client stops sending; the body-rate check closes that connection, soon.
  config.http.bodyRateWindowSeconds = 2;
  server = await startServer(engine, [], { jobsConfig: config });
});

after(async () => {
  await server?.close();
  await engine?.close();
  if (typeof mounted !== 'string') await mounted.unmount();
});

describe('the data dir runs out of space', { skip }, () => {
  it('an upload that does not fit: 503 ERROR_SERVER_BUSY with Retry-After, no file left, no job; then the next one fits', { timeout: 300_000 }, async () => {
    const tooBig = new Uint8Array(DISK_MB * 1024 * 1024 * 1.5);
    const refused = await upload(server, tooBig, 'async');
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.body, { result: 'ERROR_SERVER_BUSY', message: 'the server has no disk space left; nothing was stored, retry later', token: '' });
    assert.equal(refused.retryAfter, '60');
    assert.deepEqual(await readdir(join(dataDir, 'media')), [], 'no media and no .part left behind');
    assert.equal(jobRows(dataDir), 0, 'no job was created');
    assert.match(server.logText(), /ENOSPC/);

    const fits = await upload(server, new Uint8Array(await readFile(JFK)), 'sync');
    assert.equal(fits.status, 200);
    assert.equal(fits.body.result, 'COMPLETED');
  });

  it('a disk that fills while a job runs: the job is not lost or stored half, and completes once there is room', { timeout: 300_000 }, async () => {
    const accepted = await upload(server, new Uint8Array(await readFile(JFK)), 'async');
    assert.equal(accepted.status, 200);
    const token = String(accepted.body.token);
    const filler = await fillDisk(dataDir);
    // Full disk: whatever the job reaches (checkpoint, result), it cannot be recorded, and it
    // must not end as FAILED for it either.
    const during = new Set<string>();
    const gaveUp = /the data dir is full: job left unfinished/;
    // Until the job has tried to store its result (and then a little longer).
    for (let i = 0; i < 600 && !gaveUp.test(server.logText()); i++) {
      during.add(String((await job(server, token)).result));
      await new Promise((r) => setTimeout(r, 200));
    }
    for (let i = 0; i < 10; i++) {
      during.add(String((await job(server, token)).result));
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(server.logText(), gaveUp);
    assert.match(server.logText(), /SQLITE_FULL/);
    assert.ok(!during.has('FAILED') && !during.has('COMPLETED'), `states while full: ${[...during].join(', ')}`);
    await rm(filler);
    let done: Record<string, unknown> = {};
    for (let i = 0; i < 600; i++) {
      done = await job(server, token);
      if (done.result !== 'WAITING' && done.result !== 'PROCESSING') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(done.result, 'COMPLETED', JSON.stringify(done).slice(0, 300));
    assert.match(String(done.text), /country/i);
  });

  it('a short request while the temp dir is full: 503 STT007 with Retry-After, then served once there is room', { timeout: 300_000 }, async () => {
    // The short route writes the body to os.tmpdir() for ffmpeg; point it at the full disk.
    const filler = await fillDisk(dataDir);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dataDir;
    try {
      const clip = new Uint8Array(await readFile(JFK));
      const full = await postStt(server.url, clip, { key: KEY, query: 'lang=Eng' });
      assert.equal(full.status, 503);
      assert.deepEqual((full.body as { error: unknown }).error, { errorCode: 'STT007', message: 'Server Busy' });
      assert.equal(full.headers.get('retry-after'), '1');
      await rm(filler);
      const fine = await postStt(server.url, clip, { key: KEY, query: 'lang=Eng' });
      assert.equal(fine.status, 200);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      await rm(filler, { force: true });
    }
  });
});
