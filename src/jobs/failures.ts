/**
 * How a job fails: the spec's error code for whatever stopped it, and the outcome a failed job
 * is stored with.
 */
import { isLongformErrorCode, type LongformErrorCode } from '../clova/longform-errors.js';
import { MediaError } from '../media/decode.js';
import { ObjectStorageError } from '../media/fetch/object-storage.js';
import { FetchError } from '../media/fetch/url.js';
import { EngineFailedError } from '../speech/engine.js';
import type { JobOutcome } from './store.js';

/** A failure with the spec's error code, ending the job as FAILED. */
export class JobFailure extends Error {
  constructor(readonly code: LongformErrorCode, message: string) {
    super(message);
    this.name = 'JobFailure';
  }
}

export function timeoutMessage(timeoutSeconds: number): string {
  return `job did not finish within ${timeoutSeconds} s`;
}

/** The stored end of a failed job: TIMEOUT for the gateway timeout, FAILED for everything else. */
export function failureOutcome(token: string, code: LongformErrorCode, message: string): JobOutcome {
  return {
    state: code === 'ERROR_GATEWAY_TIMEOUT' ? 'TIMEOUT' : 'FAILED',
    result: { result: code, message, token },
    errorCode: code,
    errorMessage: message,
  };
}

/**
 * The data dir's disk (or quota) is full: writing media, or SQLite growing its files. Looks
 * through `cause`s (a download that could not be written wraps the fs error).
 */
export function isDiskFull(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export function classifyFailure(err: unknown): { code: LongformErrorCode; message: string } {
  if (err instanceof JobFailure) return { code: err.code, message: err.message };
  if (err instanceof MediaError) {
    if (err.kind === 'empty' || err.kind === 'no-audio') return { code: 'ERROR_AUDIO_EMPTY', message: err.message };
    if (err.kind === 'too-long') return { code: 'ERROR_REQUEST_PARAMETER', message: err.message };
    return { code: 'ERROR_AUDIO_CONVERSION', message: err.message };
  }
  if (err instanceof FetchError) {
    if (err.kind === 'not-found') return { code: 'ERROR_DATA_NOT_FOUND', message: err.message };
    if (err.kind === 'bad-url' || err.kind === 'too-large') return { code: 'ERROR_REQUEST_PARAMETER', message: err.message };
    return { code: 'ERROR_EXTERNAL_ERROR', message: err.message };
  }
  if (err instanceof ObjectStorageError) {
    if (err.kind === 'not-found') return { code: 'ERROR_DATA_NOT_FOUND', message: err.message };
    if (err.kind === 'too-large') return { code: 'ERROR_REQUEST_PARAMETER', message: err.message };
    return { code: 'ERROR_EXTERNAL_ERROR', message: err.message };
  }
  if (err instanceof EngineFailedError) return { code: 'ERROR_INTERNAL_ERROR', message: `recognition failed: ${err.message}` };
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && isLongformErrorCode(code)) return { code, message: (err as Error).message };
  return { code: 'ERROR_INTERNAL_ERROR', message: 'internal error' };
}
