/**
 * Long-form uploads in cluster mode through the real server (real models, ffmpeg, PostgreSQL and
 * an S3-compatible server): two nodes in this process, each with its own data dir, on one
 * PostgreSQL and one bucket. Node A runs no jobs (`jobs.workers: 0`) and waits for NOTIFY alone
 * (its safety poll is an hour): a sync upload to it is run by node B from the bucket and answered
 * by A. The media leaves the bucket once the job has ended. An object store that is down refuses
 * an upload with 503 ERROR_SERVER_BUSY and creates no job.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Config } from '../../../src/config.js';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { answer, type Answer } from '../../helpers/answer.js';
import { testdataDir } from '../../helpers/media-fixtures.js';
import { freePort } from '../../helpers/ports.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3, type S3Server } from '../../helpers/s3-server.js';
import { startServer, testConfig, testDomain, testEngine, type TestServer } from '../../helpers/server.js';

const KEY = 'cluster-media-secret';
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let postgres: PostgresServer;
let s3: S3Server;
let engine: SpeechEngine;
let dir: string;
const servers: TestServer[] = [];

async function nodeConfig(name: string, url: string, endpoint: string, tune: (c: Config) => void = () => undefined): Promise<Config> {
  const c = testConfig([testDomain('general', KEY)]);
  c.dataDir = await mkdtemp(join(dir, `${name}-`));
  c.database = { url, poolSize: 4, notifyFallbackSeconds: 10 };
  c.objectStorage = {
    endpoint, region: 'us-east-1', bucket: s3.bucket, accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY,
    forcePathStyle: true, resultPrefix: 'results/', mediaPrefix: 'sori-media/',
  };
  c.media = { ...c.media, store: 's3' };
  tune(c);
  return c;
}

async function start(config: Config): Promise<TestServer> {
  const server = await startServer(engine, [], { jobsConfig: config });
  servers.push(server);
  return server;
}

async function upload(server: TestServer, completion: 'sync' | 'async'): Promise<Answer & { retryAfter: string | null }> {
  const form = new FormData();
  form.append('media', new Blob([await readFile(join(testdataDir(), 'en/jfk.flac'))]), 'jfk.flac');
  form.append('params', JSON.stringify({ language: 'en-US', completion }));
  const res = await fetch(`${server.url}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY }, body: form });
  return { ...(await answer(res)), retryAfter: res.headers.get('retry-after') };
}

async function mediaKeys(): Promise<string[]> {
  const out = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'sori-media/' }));
  return (out.Contents ?? []).map((o) => o.Key ?? '');
}

before(async () => {
  postgres = await startPostgres();
  s3 = await startS3('sori-cluster');
  engine = testEngine();
  dir = await mkdtemp(join(tmpdir(), 'sori-cluster-media-'));
});

after(async () => {
  for (const s of servers) await s.close();
  await engine?.close();
  await s3?.close();
  await postgres?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('long-form uploads in cluster mode', () => {
  it('a sync upload to a node that runs no jobs is run by another from the bucket and answered through NOTIFY', { timeout: 300_000 }, async () => {
    const url = await postgres.createDatabase('two_nodes');
    // A's safety poll is an hour: only a notification can end its wait within this test's time.
    const a = await start(await nodeConfig('a', url, s3.endpoint, (c) => {
      c.jobs.workers = 0;
      c.database.notifyFallbackSeconds = 3600;
    }));
    const b = await start(await nodeConfig('b', url, s3.endpoint));

    const done = await upload(a, 'sync');
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.result, 'COMPLETED');
    assert.match(String(done.body.text), /ask not what your country can do for you/i);
    const token = String(done.body.token);
    assert.match(a.logText(), new RegExp(`"token":"${token}".*"msg":"job accepted"`));
    assert.doesNotMatch(a.logText(), new RegExp(`"token":"${token}".*"msg":"job started"`), 'node A runs no jobs');
    assert.match(b.logText(), new RegExp(`"token":"${token}".*"msg":"job started"`));

    // The media went through the bucket, not a disk the two share. It is removed right after the
    // job's end is committed (which is what answered A): a moment later, neither keeps a copy.
    for (let i = 0; i < 100 && (await mediaKeys()).length > 0; i++) await pause(100);
    assert.deepEqual(await mediaKeys(), [], 'removed from the bucket once the job ended');
    for (const s of [a, b]) {
      const config = s === a ? 'a' : 'b';
      const dataDir = (await readdir(dir)).find((d) => d.startsWith(`${config}-`))!;
      assert.deepEqual(await readdir(join(dir, dataDir, 'media')), [], `node ${config} keeps no media`);
    }
  });

  it('a sync request that times out on a node with no workers leaves the job and its media for the node that comes later', { timeout: 300_000 }, async () => {
    const url = await postgres.createDatabase('late_worker');
    const a = await start(await nodeConfig('late-a', url, s3.endpoint, (c) => {
      c.jobs.workers = 0;
      c.jobs.syncTimeoutSeconds = 1;
    }));
    const timedOut = await upload(a, 'sync');
    assert.equal(timedOut.status, 504, JSON.stringify(timedOut.body));
    assert.equal(timedOut.body.result, 'ERROR_GATEWAY_TIMEOUT');
    const token = /poll GET \/recognizer\/([0-9a-f]{32})/.exec(String(timedOut.body.message))?.[1];
    assert.ok(token, String(timedOut.body.message));
    assert.deepEqual(await mediaKeys(), [`sori-media/${token}`], 'the job keeps its media');

    const b = await start(await nodeConfig('late-b', url, s3.endpoint));
    let status: Answer = { status: 0, body: {} };
    for (let i = 0; i < 1200; i++) {
      status = await fetch(`${b.url}/recognizer/${token}`, { headers: { 'X-CLOVASPEECH-API-KEY': KEY } }).then(answer);
      if (status.body.result !== 'WAITING' && status.body.result !== 'PROCESSING') break;
      await pause(100);
    }
    assert.equal(status.body.result, 'COMPLETED', JSON.stringify(status.body).slice(0, 300));
    for (let i = 0; i < 100 && (await mediaKeys()).length > 0; i++) await pause(100);
    assert.deepEqual(await mediaKeys(), []);
  });

  it('an object store that is down: 503 ERROR_SERVER_BUSY with Retry-After, and no job', { timeout: 120_000 }, async () => {
    const url = await postgres.createDatabase('s3_down');
    const config = await nodeConfig('down', url, `http://127.0.0.1:${await freePort()}`);
    const node = await start(config);
    const refused = await upload(node, 'async');
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.deepEqual(refused.body, { result: 'ERROR_SERVER_BUSY', message: 'the media store is unavailable; nothing was stored, retry later', token: '' });
    assert.equal(refused.retryAfter, '10');
    const list = await fetch(`${node.url}/recognizer`, { headers: { 'X-CLOVASPEECH-API-KEY': KEY } }).then(answer);
    assert.deepEqual(list.body.jobs, [], 'no job was created');
    assert.deepEqual(await readdir(join(config.dataDir, 'media')), [], 'nothing left on disk');
    assert.match(node.logText(), /"msg":"long-form request failed"/);
  });
});
