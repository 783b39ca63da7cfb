/**
 * Uploads kept in the object store (`media.store: s3`, cluster mode) against a real
 * S3-compatible server: kept under the media prefix, fetched by another node into its own data
 * dir, removed when the job is done; an object store that is down refuses the upload cleanly
 * (MediaStoreUnavailableError, nothing left behind anywhere).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { ObjectStorageConfig } from '../../src/config.js';
import { materializeMedia, mediaDir, MediaStoreUnavailableError, UploadedMedia } from '../../src/jobs/job-media.js';
import type { JobRecord, JobSource } from '../../src/jobs/store.js';
import { ObjectStorage } from '../../src/media/fetch/object-storage.js';
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3, type S3Server } from '../helpers/s3-server.js';
import { freePort } from '../helpers/ports.js';

let s3: S3Server;
let dir: string;
const storages: ObjectStorage[] = [];

function bucket(overrides: Partial<ObjectStorageConfig> = {}): ObjectStorage {
  const storage = new ObjectStorage({
    endpoint: s3.endpoint, region: 'us-east-1', bucket: s3.bucket, accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY,
    forcePathStyle: true, resultPrefix: 'results/', mediaPrefix: 'sori-media/', ...overrides,
  });
  storages.push(storage);
  return storage;
}

async function keys(): Promise<string[]> {
  const out = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
  return (out.Contents ?? []).map((o) => o.Key ?? '').sort();
}

async function nodeDir(name: string): Promise<string> {
  const d = join(dir, name);
  await mkdir(mediaDir(d), { recursive: true });
  return d;
}

function jobOf(token: string, source: JobSource): JobRecord {
  return {
    token, domain: 'general', params: {}, source, createdAt: 0, state: 'PROCESSING', progress: 0, attempts: 1, leaseOwner: 'x',
    leaseUntil: 0, startedAt: 0, finishedAt: null, resumeAtMs: 0, partial: null, result: null, errorCode: null, errorMessage: null,
  };
}

const config = (dataDir: string) => ({
  dataDir,
  longform: { syncMaxSeconds: 7200, asyncMaxSeconds: 21600, maxBytes: 1024 * 1024, downloadTimeoutSeconds: 60 },
  network: { allowPrivate: false, allowList: [] },
});

before(async () => {
  s3 = await startS3('sori-cluster-media');
  dir = await mkdtemp(join(tmpdir(), 'sori-job-media-'));
});
after(async () => {
  for (const s of storages) s.close();
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('UploadedMedia with the object store', () => {
  it('keeps an upload in the bucket; another node fetches it into its own data dir; remove deletes both', async () => {
    const nodeA = await nodeDir('a');
    const nodeB = await nodeDir('b');
    const storage = bucket();
    const token = 'aa'.repeat(16);
    const part = join(mediaDir(nodeA), `${token}.part`);
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251));
    await writeFile(part, bytes);

    const source = await new UploadedMedia(nodeA, storage).keep(token, part, 'call.flac');
    assert.deepEqual(source, { kind: 'upload', key: `sori-media/${token}`, filename: 'call.flac' });
    assert.deepEqual(await readdir(mediaDir(nodeA)), [], 'nothing kept on the accepting node');
    assert.deepEqual(await keys(), [`sori-media/${token}`]);
    const stored = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `sori-media/${token}` }));
    assert.ok(Buffer.from(await stored.Body!.transformToByteArray()).equals(bytes));

    const onB = { objectStorage: storage, config: config(nodeB) };
    const local = await materializeMedia(jobOf(token, source), onB, new AbortController().signal);
    assert.equal(local, join(mediaDir(nodeB), token));
    assert.ok((await readFile(local)).equals(bytes));
    // A second attempt on the same node uses the copy it has.
    assert.equal(await materializeMedia(jobOf(token, source), onB, new AbortController().signal), local);

    await new UploadedMedia(nodeB, storage).remove(token);
    assert.deepEqual(await readdir(mediaDir(nodeB)), []);
    assert.deepEqual(await keys(), []);
    // Removing again (a purge after the finish) is not an error.
    await new UploadedMedia(nodeB, storage).remove(token);
  });

  it('clearCopies empties the media dir in cluster mode (copies a killed process left), never with local media', async () => {
    const node = await nodeDir('copies');
    await writeFile(join(mediaDir(node), 'ab'.repeat(16)), 'a copy');
    await writeFile(join(mediaDir(node), `${'cd'.repeat(16)}.part`), 'half a download');
    assert.equal(await new UploadedMedia(node, undefined).clearCopies(), 0);
    assert.equal((await readdir(mediaDir(node))).length, 2, 'local uploads are the media itself');
    assert.equal(await new UploadedMedia(node, bucket()).clearCopies(), 2);
    assert.deepEqual(await readdir(mediaDir(node)), []);
  });

  it('discard removes an upload whose job was not created', async () => {
    const nodeA = await nodeDir('c');
    const storage = bucket();
    const token = 'cc'.repeat(16);
    const part = join(mediaDir(nodeA), `${token}.part`);
    await writeFile(part, 'media');
    const media = new UploadedMedia(nodeA, storage);
    const source = await media.keep(token, part, undefined);
    assert.deepEqual(await keys(), [`sori-media/${token}`]);
    await media.discard(source);
    assert.deepEqual(await keys(), []);
  });

  it('an object store that is down refuses the upload: MediaStoreUnavailableError, the received file removed', async () => {
    const nodeA = await nodeDir('d');
    const down = bucket({ endpoint: `http://127.0.0.1:${await freePort()}` });
    const token = 'dd'.repeat(16);
    const part = join(mediaDir(nodeA), `${token}.part`);
    await writeFile(part, 'media');
    await assert.rejects(new UploadedMedia(nodeA, down).keep(token, part, 'x.flac'), (err: unknown) => {
      assert.ok(err instanceof MediaStoreUnavailableError, String(err));
      assert.match(err.message, /^the object store did not take the media: object storage unreachable: /);
      return true;
    });
    assert.deepEqual(await readdir(mediaDir(nodeA)), []);
  });

  it('a node that cannot reach the bucket leaves the job for a later attempt (MediaStoreUnavailableError), not failed', async () => {
    const nodeB = await nodeDir('e');
    const down = bucket({ endpoint: `http://127.0.0.1:${await freePort()}` });
    const token = 'ee'.repeat(16);
    const job = jobOf(token, { kind: 'upload', key: `sori-media/${token}`, filename: undefined });
    await assert.rejects(
      materializeMedia(job, { objectStorage: down, config: config(nodeB) }, new AbortController().signal),
      MediaStoreUnavailableError,
    );
  });
});

describe('UploadedMedia on local disk', () => {
  it('keeps an upload in the data dir under its token; discard and remove delete it', async () => {
    const nodeA = await nodeDir('local');
    const media = new UploadedMedia(nodeA, undefined);
    for (const token of ['11'.repeat(16), '22'.repeat(16)]) {
      const part = join(mediaDir(nodeA), `${token}.part`);
      await writeFile(part, 'media');
      const source = await media.keep(token, part, 'a.wav');
      assert.deepEqual(source, { kind: 'upload', path: join(mediaDir(nodeA), token), filename: 'a.wav' });
      assert.equal(await materializeMedia(jobOf(token, source), { objectStorage: undefined, config: config(nodeA) }, new AbortController().signal), source.path);
      if (token.startsWith('1')) await media.discard(source);
      else await media.remove(token);
    }
    assert.deepEqual(await readdir(mediaDir(nodeA)), []);
  });
});
