/** Where a job's media lives on disk, and getting it there. */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { ObjectStorage } from '../media/fetch/object-storage.js';
import { downloadUrl } from '../media/fetch/url.js';
import { JobFailure } from './failures.js';
import type { JobRecord } from './store.js';

export interface JobMediaDeps {
  objectStorage: ObjectStorage | undefined;
  config: Pick<Config, 'longform' | 'network' | 'dataDir'>;
}

export function mediaDir(dataDir: string): string {
  return join(dataDir, 'media');
}

/** Where a job's media lives once uploaded or fetched. */
export function mediaPath(dataDir: string, token: string): string {
  return join(mediaDir(dataDir), token);
}

/** The job's media as a local file: uploads are there already; URLs and objects are fetched. */
export async function materializeMedia(job: JobRecord, deps: JobMediaDeps, signal: AbortSignal): Promise<string> {
  const { config } = deps;
  const source = job.source;
  if (source.kind === 'upload') return source.path;
  const dest = mediaPath(config.dataDir, job.token);
  // A previous attempt may have finished the download before it died.
  if (await exists(dest)) return dest;
  const timeoutMs = config.longform.downloadTimeoutSeconds * 1000;
  if (source.kind === 'url') {
    await downloadUrl(source.url, dest, { policy: config.network, maxBytes: config.longform.maxBytes, timeoutMs, signal });
    return dest;
  }
  const storage = deps.objectStorage;
  if (storage === undefined) throw new JobFailure('ERROR_EXTERNAL_ERROR', 'no object storage is configured');
  await storage.download(source.key, dest, { maxBytes: config.longform.maxBytes, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });
  return dest;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
