/**
 * `sori transcribe --server`: each file uploaded to CLOVA's `POST /recognizer/upload` as an
 * async job, then `GET /recognizer/{token}` polled for its progress and result, as any CLOVA
 * client would (Node's fetch: undici, with the file streamed from disk by openAsBlob).
 */
import { openAsBlob } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { CompletedResult } from '../../clova/longform-result.js';
import { probeFile } from '../../media/decode.js';
import { FileFailure, StillOnServer, type Backend, type FileHooks } from './backend.js';
import type { ServerTarget } from './args.js';

export const POLL_MS = 1000;
/** Files uploaded and polled at once; the server queues its jobs beyond its own workers anyway. */
const CONCURRENCY = 4;

const Accepted = z.object({ result: z.literal('SUCCEEDED'), token: z.string().regex(/^[0-9a-f]{32}$/) });
const ErrorBody = z.object({ result: z.string(), message: z.string() });
const Pending = z.object({ result: z.enum(['WAITING', 'PROCESSING']), progress: z.number() });
// The whole body is the output (json format): checked for the fields this command reads.
const Completed = z.looseObject({ result: z.literal('COMPLETED'), segments: z.array(z.looseObject({ text: z.string() })), speakers: z.array(z.unknown()) });
const Failed = z.object({ result: z.enum(['FAILED', 'TIMEOUT']), message: z.string(), errorCode: z.string().optional() });

export function remoteBackend(target: ServerTarget, params: Record<string, unknown>): Backend {
  const headers = { 'X-CLOVASPEECH-API-KEY': target.key };
  const call = async (path: string, init: RequestInit): Promise<{ status: number; body: unknown }> => {
    let res: Response;
    try {
      res = await fetch(`${target.url}${path}`, { ...init, headers });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      throw new FileFailure(`cannot reach ${target.url}: ${cause ?? (err as Error).message}`);
    }
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) as unknown };
    } catch {
      throw new FileFailure(`${target.url}${path} answered HTTP ${res.status} with a body that is not JSON; is it a Sori or CLOVA server?`);
    }
  };

  return {
    concurrency: CONCURRENCY,
    async close() {},
    async transcribe(path: string, hooks: FileHooks): Promise<CompletedResult> {
      // For the speed figures only: the server decides what it can decode.
      probeFile(path, { signal: hooks.signal }).then(
        (info) => hooks.onDuration(info.durationS),
        () => hooks.onDuration(undefined),
      );
      const form = new FormData();
      form.set('media', await openAsBlob(path), basename(path));
      form.set('params', JSON.stringify(params));
      hooks.onStarted();
      const upload = await call('/recognizer/upload', { method: 'POST', body: form, signal: hooks.signal });
      const accepted = Accepted.safeParse(upload.body);
      if (!accepted.success) throw new FileFailure(serverError(upload.status, upload.body));
      const { token } = accepted.data;
      try {
        for (;;) {
          const { status, body } = await call(`/recognizer/${token}`, { method: 'GET', signal: hooks.signal });
          const pending = Pending.safeParse(body);
          if (pending.success) {
            hooks.onProgress(Math.min(pending.data.progress / 100, 0.99));
            await sleep(POLL_MS, undefined, { signal: hooks.signal });
            continue;
          }
          if (Completed.safeParse(body).success) return body as CompletedResult;
          const failed = Failed.safeParse(body);
          throw new FileFailure(failed.success ? `${failed.data.errorCode ?? failed.data.result}: ${failed.data.message}` : serverError(status, body));
        }
      } catch (err) {
        if (hooks.signal.aborted) throw new StillOnServer(token);
        throw err;
      }
    },
  };
}

function serverError(status: number, body: unknown): string {
  const error = ErrorBody.safeParse(body);
  return error.success ? `${error.data.result}: ${error.data.message} (HTTP ${status})` : `unexpected answer (HTTP ${status}): ${JSON.stringify(body).slice(0, 200)}`;
}
