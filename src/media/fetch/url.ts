/**
 * Downloads the media a client names by URL (long-form recognition's `POST /recognizer/url`)
 * into a local file, through the SSRF-guarded agent.
 *
 * Redirects are followed here, one hop at a time, rather than by the HTTP client, so each hop
 * is a fresh request through the guard (a public URL redirecting to 127.0.0.1 is refused) and
 * the count and schemes stay under our control. The body streams to `<dest>.part` with
 * backpressure and is renamed into place when complete, so a file at `destPath` is always a
 * whole download, and memory stays flat however large the media is.
 *
 * Every failure becomes a FetchError whose kind maps onto the wire errors. Messages name the
 * host and the status or cause, never the URL's path, query or userinfo: signed media URLs
 * carry their credentials there, and these messages end up in API responses and logs.
 *
 * Failures of the local disk (destination directory missing, disk full) stay ordinary errors.
 *
 * A name that does not resolve (ENOTFOUND) is 'not-found', like a 404: the client gave a URL
 * that points nowhere. A temporary DNS failure (EAI_AGAIN) is 'external', like a 5xx.
 */
import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request, type Dispatcher } from 'undici';
import type { NetworkPolicy } from '../../net/address-policy.js';
import { AddressRefusedError, createGuardedAgent } from '../../net/guarded-agent.js';

export type FetchErrorKind = 'bad-url' | 'refused' | 'not-found' | 'external' | 'too-large' | 'timeout';

export class FetchError extends Error {
  readonly kind: FetchErrorKind;
  /** The HTTP status that caused it, when one did. */
  readonly status: number | undefined;
  constructor(kind: FetchErrorKind, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'FetchError';
    this.kind = kind;
    this.status = options.status;
  }
}

export interface DownloadOptions {
  policy: NetworkPolicy;
  /** Refuse ('too-large') from Content-Length, or as soon as the body crosses this. */
  maxBytes: number;
  /** For the whole download, headers and body, across redirects. */
  timeoutMs: number;
  /** Default 5. */
  maxRedirects?: number;
  /** Aborting stops the download, removes the partial file and rejects with the abort reason. */
  signal?: AbortSignal;
  /** Called for every chunk written; `totalBytes` is the Content-Length when the server sent one. */
  onProgress?: (receivedBytes: number, totalBytes: number | undefined) => void;
  /**
   * A guarded agent to reuse (e.g. the one callbacks use), made from the same policy. By default
   * one is made for this download and closed after it.
   */
  agent?: Dispatcher;
}

export interface DownloadResult {
  bytes: number;
  contentType: string | undefined;
  /** The URL the media finally came from, after redirects. */
  finalUrl: string;
}

const DEFAULT_MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const GONE_STATUSES = new Set([404, 410]);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const CAUSE_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EAI_AGAIN: 'DNS lookup failed temporarily',
  UND_ERR_SOCKET: 'connection closed before the response was complete',
  HPE_INVALID_CONSTANT: 'invalid HTTP response',
};

export async function downloadUrl(url: string, destPath: string, opts: DownloadOptions): Promise<DownloadResult> {
  opts.signal?.throwIfAborted();
  if (!(opts.maxBytes > 0)) throw new RangeError(`maxBytes must be > 0, got ${opts.maxBytes}`);
  if (!(opts.timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${opts.timeoutMs}`);
  const maxRedirects = opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  let current = parseMediaUrl(url);

  const agent = opts.agent ?? createGuardedAgent(opts.policy);
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(timeoutError(opts.timeoutMs)), opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline.signal]) : deadline.signal;
  try {
    for (let redirects = 0; ; redirects++) {
      const response = await get(current, agent, signal);
      const { statusCode: status } = response;
      if (REDIRECT_STATUSES.has(status)) {
        discard(response.body);
        if (redirects >= maxRedirects) {
          throw new FetchError('external', `${current.host} redirected more than ${maxRedirects} times`, { status });
        }
        current = redirectTarget(current, header(response.headers.location), status);
        continue;
      }
      if (status < 200 || status > 299) {
        discard(response.body);
        const kind = GONE_STATUSES.has(status) ? 'not-found' : 'external';
        throw new FetchError(kind, `${current.host} answered ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd(), { status });
      }
      const total = contentLength(header(response.headers['content-length']));
      if (total !== undefined && total > opts.maxBytes) {
        discard(response.body);
        throw new FetchError('too-large', `the media is ${total} bytes, over the limit of ${opts.maxBytes}`);
      }
      const bytes = await saveBody(response.body, destPath, opts.maxBytes, total, opts.onProgress);
      return { bytes, contentType: header(response.headers['content-type']), finalUrl: current.href };
    }
  } catch (err) {
    if (err instanceof LocalFileError) throw err.cause;
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (deadline.signal.aborted) throw timeoutError(opts.timeoutMs);
    throw toFetchError(err, current.host);
  } finally {
    clearTimeout(timer);
    if (!opts.agent) await agent.destroy();
  }
}

function parseMediaUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new FetchError('bad-url', 'the media URL is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FetchError('bad-url', `only http and https media URLs are supported, not ${url.protocol}`);
  }
  return url;
}

function redirectTarget(from: URL, location: string | undefined, status: number): URL {
  if (!location) throw new FetchError('external', `${from.host} answered ${status} without a Location`, { status });
  let to: URL;
  try {
    to = new URL(location, from);
  } catch {
    throw new FetchError('external', `${from.host} redirected to an invalid URL`, { status });
  }
  if (to.protocol !== 'http:' && to.protocol !== 'https:') {
    throw new FetchError('refused', `${from.host} redirected to a ${to.protocol} URL; only http and https are followed`, { status });
  }
  return to;
}

function get(url: URL, agent: Dispatcher, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
  const headers: Record<string, string> = {
    'user-agent': 'sori',
    // The bytes on disk must be the media itself, and maxBytes must count what is stored.
    'accept-encoding': 'identity',
  };
  // undici ignores userinfo; sent as Basic auth on the hop whose URL carries it, and only there.
  if (url.username || url.password) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
  }
  return request(new URL(url.pathname + url.search, url.origin), { method: 'GET', headers, dispatcher: agent, signal });
}

async function saveBody(
  body: NodeJS.ReadableStream,
  destPath: string,
  maxBytes: number,
  total: number | undefined,
  onProgress: DownloadOptions['onProgress'],
): Promise<number> {
  const partPath = `${destPath}.part`;
  // Opened before streaming starts, so the file exists by the time any failure can remove it:
  // a lazily opened stream could create it after the cleanup ran.
  const file = await open(partPath, 'w').catch((err: unknown) => {
    throw new LocalFileError(err);
  });
  let received = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      if (received > maxBytes) {
        done(new FetchError('too-large', `the media is larger than the limit of ${maxBytes} bytes`));
        return;
      }
      onProgress?.(received, total);
      done(null, chunk);
    },
  });
  const sink = createWriteStream('', { fd: file });
  // pipeline destroys every stream with the first error, so only the first one tells the origin.
  // A body that failed before these listeners were attached (the peer closing at once) reaches
  // the sink as its error too: an error from the network is never the disk's, whoever saw it first.
  let firstToFail: 'body' | 'disk' | undefined;
  body.once('error', () => (firstToFail ??= 'body'));
  sink.once('error', () => (firstToFail ??= 'disk'));
  try {
    await pipeline(body, limit, sink);
  } catch (err) {
    await rm(partPath, { force: true });
    throw firstToFail === 'disk' && !fromNetwork(err) ? new LocalFileError(err) : err;
  }
  await rename(partPath, destPath).catch(async (err: unknown) => {
    await rm(partPath, { force: true });
    throw new LocalFileError(err);
  });
  return received;
}

/** undici's errors (`UND_ERR_*`: socket closed, body timeout) and our own size limit. */
function fromNetwork(err: unknown): boolean {
  if (err instanceof FetchError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('UND_ERR');
}

/** A failure of our own disk (full, unwritable): the server's fault, not the media's. */
class LocalFileError extends Error {
  constructor(cause: unknown) {
    super('writing the download failed', { cause });
  }
}

function toFetchError(err: unknown, host: string): FetchError {
  if (err instanceof FetchError) return err;
  const refused = findCause(err, (e) => e instanceof AddressRefusedError);
  if (refused) return new FetchError('refused', refused.message, { cause: refused });
  const code = findCause(err, (e) => typeof (e as NodeJS.ErrnoException).code === 'string') as NodeJS.ErrnoException | undefined;
  const errorCode = code?.code;
  if (errorCode === 'ENOTFOUND') return new FetchError('not-found', `host ${host} does not resolve`, { cause: err });
  if (errorCode && TIMEOUT_CODES.has(errorCode)) {
    return new FetchError('timeout', `${host} did not answer in time (${errorCode})`, { cause: err });
  }
  return new FetchError('external', `could not download from ${host}: ${describeCause(errorCode)}`, { cause: err });
}

/** Built from the error code alone: undici and TLS messages can quote the request target. */
function describeCause(code: string | undefined): string {
  if (code === undefined) return 'network error';
  if (/CERT|TLS|SSL/.test(code)) return `TLS error (${code})`;
  const words = CAUSE_WORDS[code];
  return words ? `${words} (${code})` : code;
}

function findCause(err: unknown, match: (e: Error) => boolean): Error | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (match(e)) return e;
  }
  return undefined;
}

function timeoutError(timeoutMs: number): FetchError {
  return new FetchError('timeout', `the download did not finish within ${timeoutMs} ms`);
}

/** Closes a body we will not read; without a listener its abort error would be uncaught. */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => {});
  body.destroy();
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function contentLength(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined;
}
