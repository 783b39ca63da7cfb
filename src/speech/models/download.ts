/**
 * Downloads a registered model into `<modelsDir>/<name>/`, one file at a time:
 * `<file>.part` first (resumed with an HTTP Range request when it exists), sha256 computed while
 * streaming, verified, then renamed into place, so a file at its final path is always complete.
 *
 * HTTP client: Node 20's built-in `fetch` (undici) rather than `node:https`. It speaks http and
 * https alike (tests use a plain local server), takes an AbortSignal, and with
 * `redirect: 'manual'` still hands us each hop's headers: Hugging Face puts the file's sha256 in
 * `X-Linked-Etag` on the redirect to its CDN, which automatic redirects would hide from us.
 * Bodies are consumed as streams and written straight to disk, never buffered whole.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { z } from 'zod';
import { applyMirror, getModel, isHubUrl, ModelInfoSchema, type ModelFile, type ModelInfo } from './registry.js';

const MAX_REDIRECTS = 10;
/** Restarts of one file (server ignored our Range, a resumed part turned out stale, ...). */
const MAX_ATTEMPTS = 3;

export interface PullProgress {
  /** Path inside the model folder. */
  file: string;
  /** Bytes on disk for this file so far, including a resumed part. */
  received: number;
  /** Full size of the file, when the server said. */
  total: number | undefined;
}

/** How a file's content was checked: against the registry, against the Hub's headers, or not. */
export type Verification = 'sha256' | 'hub-sha256' | 'hub-git-sha1' | 'none';

export interface FileResult {
  path: string;
  /** downloaded: fetched now; present: already there and kept; skipped: optional and not published. */
  status: 'downloaded' | 'present' | 'skipped';
  bytes: number;
  verified: Verification;
  /** Bytes taken over from an earlier `.part`. */
  resumedFrom?: number;
  /** Anything the user should know, e.g. why a file could not be verified. */
  note?: string;
}

export interface PullResult {
  name: string;
  dir: string;
  files: FileResult[];
}

export interface PullOptions {
  modelsDir: string;
  /** Replaces https://huggingface.co in Hub URLs (the CLI's `--mirror` or SORI_MODELS_MIRROR). */
  mirror?: string;
  onProgress?: (p: PullProgress) => void;
  /** Called once per file as soon as it is settled. */
  onFile?: (r: FileResult) => void;
  /** Aborting stops the transfer and keeps the `.part` for a later resume. */
  signal?: AbortSignal;
}

const OptionsSchema = z.object({
  modelsDir: z.string().min(1),
  mirror: z.url({ protocol: /^https?$/, error: 'the mirror must be an http(s) URL' }).optional(),
});

export type DownloadErrorCode = 'offline' | 'tls' | 'not-found' | 'http' | 'checksum' | 'interrupted' | 'manual' | 'redirects';

export class DownloadError extends Error {
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
    readonly url?: string,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** Accepts a registered name, or a ModelInfo (validated here, since it crosses a boundary). */
export async function pullModel(model: string | ModelInfo, options: PullOptions): Promise<PullResult> {
  const info = typeof model === 'string' ? getModel(model) : ModelInfoSchema.parse(model);
  const opts = OptionsSchema.parse({ modelsDir: options.modelsDir, mirror: options.mirror });
  const modelsDir = resolve(opts.modelsDir);
  const dir = join(modelsDir, info.name);

  // Fail before downloading anything if a required file can only be copied by hand.
  const manualMissing: string[] = [];
  for (const f of info.files) {
    if (!f.url && !f.optional && !(await isFile(join(dir, f.path)))) manualMissing.push(f.path);
  }
  if (manualMissing.length > 0) {
    const why = info.manual ? `: ${info.manual}` : '';
    throw new DownloadError(
      'manual',
      `${info.name} cannot be downloaded automatically (${manualMissing.join(', ')}${why}). Copy the ${info.name} folder into ${modelsDir} instead.`,
    );
  }

  const ctx: FileContext = { model: info, dir, modelsDir, mirror: opts.mirror, options };
  const files: FileResult[] = [];
  for (const file of info.files) {
    options.signal?.throwIfAborted();
    const result = await pullFile(ctx, file);
    files.push(result);
    options.onFile?.(result);
  }
  return { name: info.name, dir, files };
}

interface FileContext {
  model: ModelInfo;
  dir: string;
  modelsDir: string;
  mirror: string | undefined;
  options: PullOptions;
}

type HubHash = { algo: 'sha256' | 'git-sha1'; hex: string };

async function pullFile(ctx: FileContext, file: ModelFile): Promise<FileResult> {
  const finalPath = join(ctx.dir, file.path);
  const partPath = `${finalPath}.part`;
  await mkdir(dirname(finalPath), { recursive: true });

  const url = file.url ? applyMirror(file.url, ctx.mirror) : undefined;
  const trustHub = file.url !== undefined && isHubUrl(file.url);
  const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'sori-model-downloader' };

  if (await isFile(finalPath)) {
    const kept = await keepPresent(ctx, file, finalPath, url, headers, trustHub);
    if (kept) return kept;
    // Otherwise it is a wrong copy: fetch a good one and let the final rename replace it.
  }
  if (!url) {
    // pullModel already refused missing files without a URL, so this is a present but wrong copy.
    throw new DownloadError(
      'checksum',
      `${ctx.model.name}/${file.path} does not match its registry sha256 and has no download; copy a good ${ctx.model.name} folder into ${ctx.modelsDir}.`,
    );
  }

  let resumedStale = false;
  for (let attempt = 1; ; attempt++) {
    const partSize = await sizeOf(partPath);
    let opened: Opened;
    try {
      opened = await open(url, partSize > 0 ? { ...headers, range: `bytes=${partSize}-` } : headers, trustHub, ctx, false);
    } catch (err) {
      // Everything required may be in place already; an optional extra is not worth failing for.
      if (file.optional && err instanceof DownloadError && err.code === 'offline') {
        return { path: file.path, status: 'skipped', bytes: 0, verified: 'none', note: `optional, could not reach ${new URL(url).host}` };
      }
      throw err;
    }
    const { res, hub } = opened;

    if (res.status === 404) {
      await res.body?.cancel();
      if (file.optional) {
        await unlink(partPath).catch(() => undefined);
        return { path: file.path, status: 'skipped', bytes: 0, verified: 'none', note: 'optional, not published upstream' };
      }
      throw new DownloadError('not-found', `Not found (HTTP 404): ${url} — upstream has no ${file.path} for ${ctx.model.name}.`, url);
    }
    if (res.status === 416 && partSize > 0 && attempt < MAX_ATTEMPTS) {
      // Our part is as long as (or longer than) the file: start over rather than guess.
      await res.body?.cancel();
      await unlink(partPath).catch(() => undefined);
      continue;
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      throw new DownloadError('http', httpMessage(res, url), url);
    }

    let offset = 0;
    let total = numberHeader(res.headers.get('content-length'));
    if (res.status === 206) {
      const range = parseContentRange(res.headers.get('content-range'));
      if (!range || range.start !== partSize) {
        await res.body?.cancel();
        await unlink(partPath).catch(() => undefined);
        if (attempt < MAX_ATTEMPTS) continue;
        throw new DownloadError('http', `Unexpected partial response from ${url} (Content-Range ${res.headers.get('content-range') ?? 'missing'}).`, url);
      }
      offset = partSize;
      total = range.total;
    }
    // A 200 to a Range request means the server ignored it: the body is the whole file again.
    total ??= file.size;

    const hash = createHash('sha256');
    if (offset > 0) await feed(hash, partPath, offset);
    const received = await receive(ctx, file, res, partPath, offset, total, hash);
    if (total !== undefined && received !== total) {
      throw new DownloadError(
        'interrupted',
        `Download of ${ctx.model.name}/${file.path} ended early (${received} of ${total} bytes); run the command again to resume.`,
        url,
      );
    }

    const digest = hash.digest('hex');
    const check = await verify(partPath, digest, file, hub);
    if (!check.ok) {
      await unlink(partPath).catch(() => undefined);
      // A resumed part can be from an older upstream version; one clean retry settles it.
      if (offset > 0 && !resumedStale) {
        resumedStale = true;
        continue;
      }
      throw new DownloadError(
        'checksum',
        `Checksum mismatch for ${ctx.model.name}/${file.path} from ${url}: expected ${check.expected}, got ${check.got}. The download was deleted; try again or use a different mirror.`,
        url,
      );
    }
    await rename(partPath, finalPath);
    return {
      path: file.path,
      status: 'downloaded',
      bytes: received,
      verified: check.verified,
      ...(offset > 0 ? { resumedFrom: offset } : {}),
      ...(check.verified === 'none' ? { note: 'no checksum in the registry and none sent by the server' } : {}),
    };
  }
}

/**
 * Decides whether a file already at its final path stays. With a registry hash that is a local
 * check. Otherwise we ask upstream for its hash, stopping at the Hub's redirect so that no CDN
 * transfer starts; if upstream cannot be asked (offline) or gives no hash, the file is kept as is.
 * Returns undefined when the file is wrong and must be downloaded again.
 */
async function keepPresent(
  ctx: FileContext,
  file: ModelFile,
  finalPath: string,
  url: string | undefined,
  headers: Record<string, string>,
  trustHub: boolean,
): Promise<FileResult | undefined> {
  const bytes = await sizeOf(finalPath);
  const present = (verified: Verification, note?: string): FileResult => ({ path: file.path, status: 'present', bytes, verified, ...(note ? { note } : {}) });
  if (file.sha256) return (await sha256File(finalPath)) === file.sha256 ? present('sha256') : undefined;
  if (!url) return present('none', 'not verified: no upstream to check against');
  // Only the Hub announces hashes; asking anyone else would just start a download to cancel.
  if (!trustHub) return present('none', 'kept without checking: upstream publishes no checksum');

  let probe: Opened;
  try {
    probe = await open(url, headers, trustHub, ctx, true);
  } catch (err) {
    if (err instanceof DownloadError) {
      return present('none', `kept without checking: ${err.code === 'offline' ? `could not reach ${new URL(url).host}` : err.message}`);
    }
    throw err;
  }
  const { res, hub } = probe;
  await res.body?.cancel();
  if (!hub) {
    const why = res.status >= 400 ? `${url} answered HTTP ${res.status}` : 'the server sent no checksum to compare with';
    return present('none', `kept without checking: ${why}`);
  }
  const got = hub.algo === 'sha256' ? await sha256File(finalPath) : await gitBlobSha1(finalPath);
  if (got !== hub.hex) return undefined;
  return present(hub.algo === 'sha256' ? 'hub-sha256' : 'hub-git-sha1');
}

type Check = { ok: true; verified: Verification } | { ok: false; expected: string; got: string };

async function verify(partPath: string, sha256: string, file: ModelFile, hub: HubHash | undefined): Promise<Check> {
  if (file.sha256) {
    return sha256 === file.sha256 ? { ok: true, verified: 'sha256' } : { ok: false, expected: `sha256 ${file.sha256}`, got: sha256 };
  }
  if (hub?.algo === 'sha256') {
    return sha256 === hub.hex ? { ok: true, verified: 'hub-sha256' } : { ok: false, expected: `sha256 ${hub.hex} (from the server)`, got: sha256 };
  }
  if (hub?.algo === 'git-sha1') {
    // Small non-LFS files are only identified by their git blob id; hashing them again is cheap.
    const got = await gitBlobSha1(partPath);
    return got === hub.hex ? { ok: true, verified: 'hub-git-sha1' } : { ok: false, expected: `git blob ${hub.hex} (from the server)`, got };
  }
  return { ok: true, verified: 'none' };
}

async function receive(
  ctx: FileContext,
  file: ModelFile,
  res: Response,
  partPath: string,
  offset: number,
  total: number | undefined,
  hash: Hash,
): Promise<number> {
  const { onProgress, signal } = ctx.options;
  let received = offset;
  onProgress?.({ file: file.path, received, total });
  if (!res.body) return received;
  // Not pipeline(): on a dropped connection it destroys the file stream, which throws away
  // chunks still queued behind the file's open, and the next pull could resume from less (or
  // nothing). Every byte received is written before the error is reported.
  const out = createWriteStream(partPath, { flags: offset > 0 ? 'a' : 'w', flush: true });
  const closed = new Promise<void>((resolve, reject) => {
    out.once('close', resolve);
    out.once('error', reject);
  });
  closed.catch(() => undefined); // awaited below; a write error meanwhile must not count as unhandled
  let failure: unknown;
  try {
    for await (const chunk of Readable.fromWeb(res.body as WebReadableStream<Uint8Array>, { signal })) {
      const bytes = chunk as Buffer;
      hash.update(bytes);
      received += bytes.length;
      onProgress?.({ file: file.path, received, total });
      if (!out.write(bytes)) await once(out, 'drain', { signal });
    }
  } catch (err) {
    failure = err;
  }
  out.end();
  await closed;
  if (failure !== undefined) {
    if (signal?.aborted) throw signal.reason;
    throw new DownloadError(
      'interrupted',
      `Connection lost while downloading ${ctx.model.name}/${file.path} (${received} bytes kept in ${partPath}): ${describe(failure)}. Run the command again to resume.`,
    );
  }
  return received;
}

interface Opened {
  res: Response;
  /** The file's hash as the Hub announced it, if this is a Hub URL and it did. */
  hub: HubHash | undefined;
}

/**
 * GET with redirects followed by hand. Hash headers are read only from hops on the URL's own
 * origin: the Hub's redirect carries `X-Linked-Etag`, while a CDN's ETag means something else.
 * With `stopAtHash` it returns at the first hop that names the hash (only the hash is wanted).
 */
async function open(url: string, headers: Record<string, string>, trustHub: boolean, ctx: FileContext, stopAtHash: boolean): Promise<Opened> {
  const origin = new URL(url).origin;
  let current = url;
  let hub: HubHash | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    let res: Response;
    try {
      res = await fetch(current, { headers, redirect: 'manual', ...(ctx.options.signal ? { signal: ctx.options.signal } : {}) });
    } catch (err) {
      if (ctx.options.signal?.aborted) throw ctx.options.signal.reason;
      throw unreachable(err, current, ctx);
    }
    const sameOrigin = new URL(current).origin === origin;
    const location = res.headers.get('location');
    const isRedirect = res.status >= 300 && res.status < 400 && location !== null;
    if (trustHub && sameOrigin) {
      hub = parseHubHash(res.headers.get('x-linked-etag')) ?? (isRedirect ? undefined : parseHubHash(res.headers.get('etag'))) ?? hub;
    }
    if (!isRedirect || (stopAtHash && hub)) return { res, hub };
    await res.body?.cancel();
    current = new URL(location, current).href;
  }
  throw new DownloadError('redirects', `Too many redirects starting from ${url}.`, url);
}

/** ETag values are quoted and may be weak; only full sha256 or git sha1 hex strings count. */
export function parseHubHash(value: string | null): HubHash | undefined {
  if (!value) return undefined;
  const hex = value.trim().replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase();
  if (/^[0-9a-f]{64}$/.test(hex)) return { algo: 'sha256', hex };
  if (/^[0-9a-f]{40}$/.test(hex)) return { algo: 'git-sha1', hex };
  return undefined;
}

function unreachable(err: unknown, url: string, ctx: FileContext): DownloadError {
  const host = new URL(url).host;
  const code = errorCode(err);
  if (code && /CERT|TLS|SSL/.test(code)) {
    return new DownloadError('tls', `Could not open a secure connection to ${host} (${code}); a proxy or clock problem may be interfering.`, url);
  }
  return new DownloadError(
    'offline',
    `Could not reach ${host}${code ? ` (${code})` : ''}: this machine may be offline, or the host may be blocked. ` +
      `Instead, copy the ${ctx.model.name} model folder into ${ctx.modelsDir} (SORI_MODELS_DIR) from a machine that has it.`,
    url,
  );
}

/** undici wraps the socket error: TypeError('fetch failed') -> cause (maybe an AggregateError). */
function errorCode(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    queue.push((e as { cause?: unknown }).cause);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return undefined;
}

function describe(err: unknown): string {
  return errorCode(err) ?? (err instanceof Error ? err.message : String(err));
}

function httpMessage(res: Response, url: string): string {
  if (res.status === 401 || res.status === 403) {
    return `Access denied (HTTP ${res.status}) for ${url}; the repository may be gated or private.`;
  }
  return `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} from ${url}.`;
}

function numberHeader(v: string | null): number | undefined {
  if (v === null || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v);
}

function parseContentRange(v: string | null): { start: number; total: number | undefined } | undefined {
  const m = v ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim()) : null;
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

/** Feeds a file (or its first `length` bytes) into a running hash. */
async function feed(hash: Hash, path: string, length?: number): Promise<void> {
  if (length === 0) return;
  const stream = createReadStream(path, length === undefined ? {} : { end: length - 1 });
  for await (const chunk of stream) hash.update(chunk as Buffer);
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await feed(hash, path);
  return hash.digest('hex');
}

/** The id git gives a blob: sha1 of "blob <size>\0" followed by the content. */
async function gitBlobSha1(path: string): Promise<string> {
  const hash = createHash('sha1');
  hash.update(`blob ${await sizeOf(path)}\0`);
  await feed(hash, path);
  return hash.digest('hex');
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
