/**
 * Where a job's media lives, and getting it there: uploads are kept on this node's disk
 * (`media.store: local`) or in the object store (`s3`, cluster mode: any node can run the job);
 * the node running a job has its media as a local file for ffmpeg; the media goes when the job
 * ends or is purged.
 */
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { ObjectStorageError, type ObjectStorage } from '../media/fetch/object-storage.js';
import { downloadUrl } from '../media/fetch/url.js';
import { JobFailure } from './failures.js';
import type { JobRecord, JobSource } from './store.js';

export interface JobMediaDeps {
  objectStorage: ObjectStorage | undefined;
  config: Pick<Config, 'longform' | 'network' | 'dataDir'>;
}

/**
 * The object store could not take an upload: nothing was stored, no job was created. Routes
 * answer "busy, retry later".
 */
export class MediaStoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MediaStoreUnavailableError';
  }
}

export function mediaDir(dataDir: string): string {
  return join(dataDir, 'media');
}

/** Where a job's media lives on this node once uploaded or fetched. */
export function mediaPath(dataDir: string, token: string): string {
  return join(mediaDir(dataDir), token);
}

/** The object key of an upload kept in the bucket. */
export function mediaKey(prefix: string, token: string): string {
  return `${prefix}${token}`;
}

/** Keeps uploads where `media.store` says, and removes a job's media when it is done. */
export class UploadedMedia {
  constructor(
    private readonly dataDir: string,
    /** Set: uploads go to the bucket (cluster mode). */
    private readonly bucket: ObjectStorage | undefined,
  ) {}

  /**
   * Makes the received file at `part` the job's media and returns the job's source. With the
   * bucket, the file is uploaded and removed here; an upload that fails throws
   * MediaStoreUnavailableError and leaves nothing behind.
   */
  async keep(token: string, part: string, filename: string | undefined): Promise<JobSource> {
    if (this.bucket === undefined) {
      const dest = mediaPath(this.dataDir, token);
      await rename(part, dest);
      return { kind: 'upload', path: dest, filename };
    }
    const key = mediaKey(this.bucket.mediaPrefix, token);
    try {
      await this.bucket.uploadFile(key, part);
    } catch (err) {
      // A PUT that failed midway may still have stored the object (the answer was lost).
      await this.bucket.delete(key).catch(() => undefined);
      throw new MediaStoreUnavailableError(`the object store did not take the media: ${(err as Error).message}`, { cause: err });
    } finally {
      await rm(part, { force: true });
    }
    return { kind: 'upload', key, filename };
  }

  /** Removes media kept by `keep` for a job that was not created after all. */
  async discard(source: JobSource): Promise<void> {
    if (source.kind !== 'upload') return;
    if ('path' in source) await rm(source.path, { force: true });
    else await this.bucket?.delete(source.key);
  }

  /**
   * Cluster mode, at start: every file in the media dir is a copy (uploads are in the bucket,
   * URLs and objects are fetched again) that a process killed mid-job left behind, and whose job
   * another node may have finished since, so nothing else would remove it. Removes them all and
   * returns how many; with local media, nothing (the uploads themselves live there).
   */
  async clearCopies(): Promise<number> {
    if (this.bucket === undefined) return 0;
    const dir = mediaDir(this.dataDir);
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(names.map((name) => rm(join(dir, name), { force: true, recursive: true })));
    return names.length;
  }

  /**
   * A job ended or was purged: its local copy (an upload, a download, a copy of a bucket upload)
   * and, in cluster mode, its upload in the bucket. The key is the token's, so a purge that only
   * knows tokens finds it; with the job's `source` at hand, a job that had no upload there costs
   * no DELETE.
   */
  async remove(token: string, source?: JobSource): Promise<void> {
    await rm(mediaPath(this.dataDir, token), { force: true });
    if (this.bucket === undefined) return;
    if (source !== undefined && !(source.kind === 'upload' && 'key' in source)) return;
    await this.bucket.delete(mediaKey(this.bucket.mediaPrefix, token));
  }
}

/**
 * The job's media as a local file: local uploads are there already; uploads in the bucket, URLs
 * and objects are fetched (once: a previous attempt on this node may have fetched it already).
 */
export async function materializeMedia(job: JobRecord, deps: JobMediaDeps, signal: AbortSignal): Promise<string> {
  const { config } = deps;
  const source = job.source;
  if (source.kind === 'upload' && 'path' in source) return source.path;
  const dest = mediaPath(config.dataDir, job.token);
  if (await exists(dest)) return dest;
  const timeoutMs = config.longform.downloadTimeoutSeconds * 1000;
  if (source.kind === 'url') {
    await downloadUrl(source.url, dest, { policy: config.network, maxBytes: config.longform.maxBytes, timeoutMs, signal });
    return dest;
  }
  const storage = deps.objectStorage;
  if (storage === undefined) throw new JobFailure('ERROR_EXTERNAL_ERROR', 'no object storage is configured');
  try {
    await storage.download(source.key, dest, { maxBytes: config.longform.maxBytes, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });
  } catch (err) {
    // Our own bucket away is not the client's fault: the job is left for a later attempt.
    if (source.kind === 'upload' && err instanceof ObjectStorageError && err.kind === 'external') {
      throw new MediaStoreUnavailableError(`the object store did not give the media back: ${err.message}`, { cause: err });
    }
    throw err;
  }
  return dest;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
