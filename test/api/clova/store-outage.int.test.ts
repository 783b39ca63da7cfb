/**
 * Long-form recognition on the PostgreSQL job store (`database.url`), through the real server,
 * with PostgreSQL crashing under it: while it is down, requests get 503 ERROR_SERVER_BUSY with
 * Retry-After and nothing is stored; a job running through the outage is neither lost nor failed,
 * and completes once PostgreSQL is back, with no restart of Sori.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MIGRATIONS } from '../../../src/jobs/postgres-migrations.js';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { answer, type Answer } from '../../helpers/answer.js';
import { testdataDir } from '../../helpers/media-fixtures.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';
import { startServer, testConfig, testDomain, testEngine, type TestServer } from '../../helpers/server.js';

const KEY = 'store-outage-secret';
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let postgres: PostgresServer;
let engine: SpeechEngine;
let server: TestServer;
let dataDir: string;

async function upload(file: string, completion: 'sync' | 'async'): Promise<Answer & { retryAfter: string | null }> {
  const form = new FormData();
  form.append('media', new Blob([await readFile(join(testdataDir(), file))]), 'media.flac');
  form.append('params', JSON.stringify({ language: 'en-US', completion }));
  const res = await fetch(`${server.url}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY }, body: form });
  return { ...(await answer(res)), retryAfter: res.headers.get('retry-after') };
}

async function status(token: string): Promise<Answer> {
  return fetch(`${server.url}/recognizer/${token}`, { headers: { 'X-CLOVASPEECH-API-KEY': KEY } }).then(answer);
}

before(async () => {
  postgres = await startPostgres();
  dataDir = await mkdtemp(join(tmpdir(), 'sori-store-outage-'));
  engine = testEngine();
  const config = testConfig([testDomain('general', KEY)]);
  config.dataDir = dataDir;
  config.database = { url: await postgres.createDatabase('outage'), poolSize: 4, notifyFallbackSeconds: 10 };
  // A job left unfinished by the outage is claimed again soon after PostgreSQL is back.
  config.jobs.leaseSeconds = 2;
  server = await startServer(engine, [], { jobsConfig: config });
});

after(async () => {
  await server?.close();
  await engine?.close();
  await postgres?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('long-form jobs on PostgreSQL', () => {
  it('a node started while PostgreSQL is down waits for it, then works', { timeout: 300_000 }, async () => {
    const config = testConfig([testDomain('general', KEY)]);
    config.dataDir = join(dataDir, 'late-node');
    config.database = { url: await postgres.createDatabase('late'), poolSize: 2, notifyFallbackSeconds: 10 };
    await postgres.stop();
    const starting = startServer(engine, [], { jobsConfig: config });
    await pause(2500);
    await postgres.start();
    const late = await starting;
    try {
      assert.match(late.logText(), /job store: PostgreSQL unreachable; waiting for it/);
      assert.ok(late.logText().includes(`"migrationsApplied":${JSON.stringify(MIGRATIONS.map((m) => m.version))}`), 'every migration applied');
    } finally {
      await late.close();
    }
  });

  it('runs a sync job end to end on the PostgreSQL store', { timeout: 300_000 }, async () => {
    const done = await upload('en/jfk.flac', 'sync');
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.result, 'COMPLETED');
    assert.match(String(done.body.text), /country/i);
    assert.equal((await status(String(done.body.token))).body.result, 'COMPLETED');
  });

  it('PostgreSQL down: 503 with Retry-After and nothing stored; a job running through it completes once it is back', { timeout: 600_000 }, async () => {
    const accepted = await upload('en/jobs_dots.flac', 'async');
    assert.equal(accepted.status, 200);
    const token = String(accepted.body.token);
    for (let i = 0; i < 600 && (await status(token)).body.result !== 'PROCESSING'; i++) await pause(50);
    assert.equal((await status(token)).body.result, 'PROCESSING');

    await postgres.stop('immediate');
    const refused = await upload('en/jfk.flac', 'async');
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.body, { result: 'ERROR_SERVER_BUSY', message: 'the job store is unavailable; nothing was stored, retry later', token: '' });
    assert.equal(refused.retryAfter, '5');
    const polled = await status(token);
    assert.equal(polled.status, 503);
    assert.equal(polled.body.result, 'ERROR_SERVER_BUSY');
    assert.match(server.logText(), /job store unavailable: PostgreSQL at 127\.0\.0\.1:\d+\/outage: /);

    // The running job reaches its end while the store is away: its result cannot be written,
    // and it must not be written FAILED later either.
    const leftUnfinished = /the job store is unavailable: job left unfinished/;
    for (let i = 0; i < 2400 && !leftUnfinished.test(server.logText()); i++) await pause(100);
    assert.match(server.logText(), leftUnfinished);

    await postgres.start();
    let done: Answer = polled;
    for (let i = 0; i < 2400; i++) {
      done = await status(token).catch(() => polled);
      if (done.body.result !== 'WAITING' && done.body.result !== 'PROCESSING' && done.body.result !== 'ERROR_SERVER_BUSY') break;
      await pause(100);
    }
    assert.equal(done.body.result, 'COMPLETED', JSON.stringify(done.body).slice(0, 300));
    assert.match(String(done.body.text), /dots/i);
    assert.deepEqual((await readdir(join(dataDir, 'media'))).filter((f) => !f.startsWith(token)), [], 'the refused upload left no file');
  });
});
