/**
 * ObjectStorage against a real S3-compatible server (versitygw), path-style and virtual-host.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, readdir } from 'node:fs/promises';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { ObjectStorageConfig } from '../../../src/config.js';
import { ObjectStorage, ObjectStorageError } from '../../../src/media/fetch/object-storage.js';
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3, type S3Server } from '../../helpers/s3-server.js';

let s3: S3Server;
let dir: string;

function config(overrides: Partial<ObjectStorageConfig> = {}): ObjectStorageConfig {
  return {
    endpoint: s3.endpoint, region: 'us-east-1', bucket: s3.bucket, accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY,
    forcePathStyle: true, resultPrefix: 'results/', mediaPrefix: 'sori-media/', ...overrides,
  };
}

before(async () => {
  s3 = await startS3();
  dir = await mkdtemp(join(tmpdir(), 'sori-obs-'));
});
after(async () => {
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ObjectStorage', () => {
  it('streams an object to disk (path-style) and matches it byte for byte', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'media/a b/한글.bin', Body: data }));
    const storage = new ObjectStorage(config());
    const dest = join(dir, 'a');
    assert.equal(await storage.download('media/a b/한글.bin', dest, { maxBytes: 10 * 1024 * 1024 }), data.length);
    const got = await readFile(dest);
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'));
    storage.close();
  });

  it('addresses the bucket as a virtual host (bucket.host) when path style is off', async () => {
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'vh.txt', Body: 'virtual host' }));
    // bucket.localhost does not resolve on every machine: send *.localhost to 127.0.0.1.
    const lookup: LookupFunction = (hostname, options, callback) => {
      if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
        if (options.all) (callback as (e: null, a: LookupAddress[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
        else callback(null, '127.0.0.1', 4);
        return;
      }
      dnsLookup(hostname, options, callback);
    };
    const seen: string[] = [];
    const storage = new ObjectStorage(config({ endpoint: `http://localhost:${s3.port}`, forcePathStyle: false }), {
      lookup: (hostname, options, callback) => {
        seen.push(hostname);
        lookup(hostname, options, callback);
      },
    });
    const dest = join(dir, 'vh');
    await storage.download('vh.txt', dest, { maxBytes: 1000 });
    assert.equal(await readFile(dest, 'utf8'), 'virtual host');
    assert.ok(seen.includes(`${s3.bucket}.localhost`), `looked up ${seen.join(', ')}`);
    storage.close();
  });

  it('writes result JSON (resultToObs)', async () => {
    const storage = new ObjectStorage(config());
    await storage.putJson('results/x.json', { text: '안녕' });
    const out = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'results/x.json' }));
    assert.deepEqual(JSON.parse(await out.Body!.transformToString()), { text: '안녕' });
    storage.close();
  });

  it('maps failures: missing key -> not-found, wrong secret -> external, over the limit -> too-large (no file left)', async () => {
    const storage = new ObjectStorage(config());
    await assert.rejects(storage.download('nope.wav', join(dir, 'n'), { maxBytes: 1000 }), (e: unknown) => e instanceof ObjectStorageError && e.kind === 'not-found');
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'big.bin', Body: Buffer.alloc(5000) }));
    await assert.rejects(storage.download('big.bin', join(dir, 'big'), { maxBytes: 1000 }), (e: unknown) => e instanceof ObjectStorageError && e.kind === 'too-large');
    assert.ok(!(await readdir(dir)).some((f) => f.startsWith('big')));
    storage.close();
    const wrong = new ObjectStorage(config({ secretAccessKey: 'not-the-secret' }));
    await assert.rejects(wrong.download('big.bin', join(dir, 'w'), { maxBytes: 10_000 }), (e: unknown) => e instanceof ObjectStorageError && e.kind === 'external');
    wrong.close();
    const down = new ObjectStorage(config({ endpoint: 'http://127.0.0.1:1' }));
    await assert.rejects(down.download('x', join(dir, 'd'), { maxBytes: 10 }), (e: unknown) => e instanceof ObjectStorageError && e.kind === 'external');
    down.close();
  });
});
