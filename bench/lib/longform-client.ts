/**
 * HTTP side of the long-form bench: CLOVA `POST /recognizer/upload` (multipart: `media` file +
 * `params` JSON text) and `GET /recognizer/{token}`. undici's own fetch with no header or body
 * timeouts, because a sync answer on a long file comes minutes after the upload.
 */
import { openAsBlob } from 'node:fs';
import { basename } from 'node:path';
import { Agent, fetch, FormData } from 'undici';
import { since } from './stats.js';

const agent = new Agent({ headersTimeout: 0, bodyTimeout: 0, connectTimeout: 5000 });

/** CLOVA long-form `language` per manifest language. */
export const LONGFORM_LANG: Record<string, string> = { ko: 'ko-KR', en: 'en-US', ja: 'ja', zh: 'zh-cn' };

export interface LongformSegmentBody {
  start: number;
  end: number;
  text: string;
  confidence: number;
  words: [number, number, string][];
}

/** The finished result body (the fields the bench reads). */
export interface LongformResultBody {
  result: string;
  token?: string;
  message?: string;
  progress?: number;
  segments?: LongformSegmentBody[];
  text?: string;
  [other: string]: unknown;
}

export interface UploadAnswer {
  /** HTTP status; 0 = no HTTP answer (connection refused or reset). */
  status: number;
  body: LongformResultBody | null;
  raw: string;
  latencyS: number;
  error?: string;
}

export async function uploadLongform(
  baseUrl: string,
  apiKey: string,
  mediaPath: string,
  params: Record<string, unknown>,
  opts: { signal?: AbortSignal } = {},
): Promise<UploadAnswer> {
  const t0 = performance.now();
  try {
    const form = new FormData();
    // A Blob backed by the file: streamed, never read whole into memory (2-hour files).
    form.append('media', await openAsBlob(mediaPath), basename(mediaPath));
    form.append('params', JSON.stringify(params));
    const res = await fetch(`${baseUrl}/recognizer/upload`, {
      method: 'POST',
      headers: { 'X-CLOVASPEECH-API-KEY': apiKey },
      body: form,
      dispatcher: agent,
      signal: opts.signal,
    });
    const raw = await res.text();
    return { status: res.status, body: parseBody(raw), raw: raw.slice(0, 2000), latencyS: since(t0) };
  } catch (err) {
    return { status: 0, body: null, raw: '', latencyS: since(t0), error: describeError(err) };
  }
}

export async function getJob(baseUrl: string, apiKey: string, token: string): Promise<{ status: number; body: LongformResultBody | null; error?: string }> {
  try {
    const res = await fetch(`${baseUrl}/recognizer/${token}`, {
      headers: { 'X-CLOVASPEECH-API-KEY': apiKey },
      dispatcher: agent,
      signal: AbortSignal.timeout(30_000),
    });
    const raw = await res.text();
    return { status: res.status, body: parseBody(raw) };
  } catch (err) {
    return { status: 0, body: null, error: describeError(err) };
  }
}

export const FINISHED = new Set(['COMPLETED', 'FAILED', 'TIMEOUT']);

/**
 * Polls until the job is finished (COMPLETED / FAILED / TIMEOUT) or `timeoutMs` passes;
 * `onPoll` sees every status body (progress). Connection errors are retried (a restarting server).
 */
export async function waitForJob(
  baseUrl: string,
  apiKey: string,
  token: string,
  opts: { pollMs?: number; timeoutMs?: number; onPoll?: (b: LongformResultBody | null) => void; signal?: AbortSignal } = {},
): Promise<LongformResultBody | null> {
  const deadline = Date.now() + (opts.timeoutMs ?? 3 * 3600_000);
  for (;;) {
    opts.signal?.throwIfAborted();
    const r = await getJob(baseUrl, apiKey, token);
    opts.onPoll?.(r.body);
    if (r.body && FINISHED.has(r.body.result)) return r.body;
    if (r.status === 400 || r.status === 404) return r.body; // unknown token: nothing to wait for
    if (Date.now() > deadline) return r.body;
    await new Promise((res) => setTimeout(res, opts.pollMs ?? 1000));
  }
}

function parseBody(raw: string): LongformResultBody | null {
  try {
    const j = JSON.parse(raw) as unknown;
    return j && typeof j === 'object' && !Array.isArray(j) ? (j as LongformResultBody) : null;
  } catch {
    return null;
  }
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ? `${err.message} (${cause.code})` : err.message;
}

/** The text of a finished result: `text` when present (fullText), else the segments joined. */
export function resultText(body: LongformResultBody): string {
  if (typeof body.text === 'string') return body.text;
  return (body.segments ?? []).map((s) => s.text).join(' ');
}
