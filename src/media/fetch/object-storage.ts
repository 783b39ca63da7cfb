/**
 * The configured S3-compatible bucket (NCP Object Storage, AWS S3, MinIO, ...), through the AWS
 * SDK v3: `/recognizer/object-storage` downloads media from it, `resultToObs` writes results
 * to it, and in cluster mode uploads wait there for whichever node runs their job. Downloads and
 * uploads stream between the bucket and disk, never through memory.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { LookupFunction } from 'node:net';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ObjectStorageConfig } from '../../config.js';

export type ObjectStorageErrorKind = 'not-found' | 'external' | 'too-large' | 'not-configured';

export class ObjectStorageError extends Error {
  readonly kind: ObjectStorageErrorKind;
  constructor(kind: ObjectStorageErrorKind, message: string) {
    super(message);
    this.name = 'ObjectStorageError';
    this.kind = kind;
  }
}

const ignore = (): void => undefined;
const SILENT_SDK_LOGGER = { trace: ignore, debug: ignore, info: ignore, warn: ignore, error: ignore };

type S3Sdk = typeof import('@aws-sdk/client-s3');

/**
 * The AWS SDK is loaded when a store is first used, not when this module is: the embedded
 * default (local disk) never uses it, and importing the job system took 138-166 MB resident with
 * it against 130-134 without (four runs each).
 */
async function loadSdk(): Promise<{ s3: S3Sdk; NodeHttpHandler: typeof import('@smithy/node-http-handler').NodeHttpHandler }> {
  const [s3, { NodeHttpHandler }] = await Promise.all([import('@aws-sdk/client-s3'), import('@smithy/node-http-handler')]);
  return { s3, NodeHttpHandler };
}

export class ObjectStorage {
  private opened: Promise<{ s3: S3Sdk; client: S3Client }> | undefined;
  private client: S3Client | undefined;

  /**
   * `lookup` replaces DNS for the store's host names: virtual-host addressing puts the bucket in
   * the host name (bucket.host), which a test machine or a private network may not resolve.
   */
  constructor(private readonly config: ObjectStorageConfig, private readonly opts: { lookup?: LookupFunction } = {}) {}

  private open(): Promise<{ s3: S3Sdk; client: S3Client }> {
    this.opened ??= loadSdk().then(({ s3, NodeHttpHandler }) => {
      const config = this.config;
      const agentOptions = { keepAlive: true, ...(this.opts.lookup === undefined ? {} : { lookup: this.opts.lookup }) };
      const client = new s3.S3Client({
        requestHandler: new NodeHttpHandler({ httpAgent: new HttpAgent(agentOptions), httpsAgent: new HttpsAgent(agentOptions) }),
        endpoint: config.endpoint,
        region: config.region,
        forcePathStyle: config.forcePathStyle,
        credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
        // S3-compatible stores other than AWS often reject the SDK's newer default checksums.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 3,
        // Failures reach our log as errors the caller reports; the SDK would also print some to the
        // console (a streamed PUT that cannot be retried), outside the structured log.
        logger: SILENT_SDK_LOGGER,
      });
      this.client = client;
      return { s3, client };
    });
    return this.opened;
  }

  get bucket(): string {
    return this.config.bucket;
  }

  get resultPrefix(): string {
    return this.config.resultPrefix;
  }

  get mediaPrefix(): string {
    return this.config.mediaPrefix;
  }

  /**
   * Streams the file at `path` to `key` in one PUT (up to 5 GiB: config refuses a larger
   * `longform.maxBytes` with media in the bucket). The length is known from disk, so nothing is
   * buffered; a stream body cannot be replayed, so a failed PUT fails at once rather than retried.
   */
  async uploadFile(key: string, path: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const { size } = await stat(path);
    const { s3, client } = await this.open();
    const body = createReadStream(path);
    try {
      await client.send(
        new s3.PutObjectCommand({ Bucket: this.config.bucket, Key: key, Body: body, ContentLength: size, ContentType: 'application/octet-stream' }),
        { abortSignal: opts.signal },
      );
    } catch (err) {
      throw this.translate(err, key);
    } finally {
      // A PUT that failed before reading it all leaves the file open otherwise.
      body.destroy();
    }
  }

  /** Deletes `key`; an object already gone is not an error (S3 answers 204 either way). */
  async delete(key: string): Promise<void> {
    try {
      const { s3, client } = await this.open();
      await client.send(new s3.DeleteObjectCommand({ Bucket: this.config.bucket, Key: key }));
    } catch (err) {
      const translated = this.translate(err, key);
      if (translated instanceof ObjectStorageError && translated.kind === 'not-found') return;
      throw translated;
    }
  }

  /** Streams `key` to `dest` (via dest.part, renamed when complete). */
  async download(key: string, dest: string, opts: { maxBytes: number; signal?: AbortSignal }): Promise<number> {
    const part = `${dest}.part`;
    try {
      const { s3, client } = await this.open();
      const out = await client.send(new s3.GetObjectCommand({ Bucket: this.config.bucket, Key: key }), {
        abortSignal: opts.signal,
      });
      if (out.ContentLength !== undefined && out.ContentLength > opts.maxBytes) {
        (out.Body as Readable | undefined)?.destroy();
        throw new ObjectStorageError('too-large', `object is ${out.ContentLength} bytes, over the ${opts.maxBytes}-byte limit`);
      }
      let bytes = 0;
      const limit = new Transform({
        transform(chunk: Buffer, _enc, done) {
          bytes += chunk.length;
          if (bytes > opts.maxBytes) done(new ObjectStorageError('too-large', `object is over the ${opts.maxBytes}-byte limit`));
          else done(null, chunk);
        },
      });
      await pipeline(out.Body as Readable, limit, createWriteStream(part), { signal: opts.signal });
      await rename(part, dest);
      return bytes;
    } catch (err) {
      await rm(part, { force: true });
      throw this.translate(err, key);
    }
  }

  async putJson(key: string, body: unknown): Promise<void> {
    try {
      const { s3, client } = await this.open();
      await client.send(
        new s3.PutObjectCommand({
          Bucket: this.config.bucket,
          Key: key,
          Body: JSON.stringify(body),
          ContentType: 'application/json; charset=utf-8',
        }),
      );
    } catch (err) {
      throw this.translate(err, key);
    }
  }

  close(): void {
    if (this.client !== undefined) this.client.destroy();
    else void this.opened?.then(({ client }) => client.destroy(), () => undefined);
  }

  private translate(err: unknown, key: string): Error {
    if (err instanceof ObjectStorageError) return err;
    if (err instanceof Error && err.name === 'AbortError') return err;
    // The SDK's S3ServiceException, told by its shape: the SDK may not be loaded where this runs.
    if (err instanceof Error && '$metadata' in err && typeof err.$metadata === 'object' && err.$metadata !== null) {
      const status = (err.$metadata as { httpStatusCode?: number }).httpStatusCode;
      if (err.name === 'NoSuchKey' || err.name === 'NotFound' || status === 404) {
        return new ObjectStorageError('not-found', `object "${key}" not found in bucket "${this.config.bucket}"`);
      }
      return new ObjectStorageError('external', `object storage refused: ${err.name}${status ? ` (HTTP ${status})` : ''}`);
    }
    const message = err instanceof Error ? err.message : String(err);
    return new ObjectStorageError('external', `object storage unreachable: ${message}`);
  }
}
