/**
 * CLOVA Speech long-form recognition (spec section 2): `POST /recognizer/upload|url|object-storage`
 * and `GET /recognizer/{token}`, also under an InvokeURL-style prefix
 * (`/external/v1/{domainId}/{invokeKey}/recognizer/...`).
 *
 * A request becomes a durable job before any 2xx: uploads stream to the data dir (and on to the
 * object store in cluster mode) and the job row commits, then `async` answers with the token
 * while `sync` waits for the job to end, wherever it runs. The job itself runs in a JobRunner,
 * which survives this request (and this process).
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Config, DomainConfig } from '../../config.js';
import type { JobQueue } from '../../jobs/queue.js';
import { statusBody, subtitleOf } from '../../jobs/result.js';
import { sendResult } from './subtitle-response.js';
import { isDiskFull } from '../../jobs/failures.js';
import { mediaPath, MediaStoreUnavailableError, UploadedMedia } from '../../jobs/job-media.js';
import type { JobRunner } from '../../jobs/runner.js';
import { JobStoreUnavailableError, type JobSource, type JobStore } from '../../jobs/store.js';
import { API_KEY_HEADER, httpOrigin, throttledMessage, type AuthGate } from '../../domains/auth.js';
import { DomainRequestLimits } from '../../domains/request-limits.js';
import { isLongformErrorCode, LONGFORM_ERRORS, LongformError } from '../../clova/longform-errors.js';
import { paramsFromText, parseLongformParams, type LongformParams } from '../../clova/longform-params.js';
import type { DomainBoostings } from '../../domains/boostings.js';
import { SUBTITLE_CONTENT_TYPES, SUBTITLE_FORMATS } from '../../transcript/subtitles/index.js';
import { LONGFORM_SHARED_SCHEMAS, longformRouteSchemas } from './longform-schema.js';
import { addSharedSchemas } from '../docs/common.js';
import { schemasAreDocumentationOnly } from '../docs/documentation-only.js';

export interface LongformRouteOptions {
  /** The process's one gate: the domains' secrets plus the per-client throttle. */
  auth: AuthGate;
  store: JobStore;
  queue: JobQueue;
  runner: JobRunner;
  config: Pick<Config, 'dataDir' | 'jobs' | 'longform'> & Partial<Pick<Config, 'subtitles'>>;
  objectStorageConfigured: boolean;
  /** Where uploads are kept (default: the data dir). */
  media?: UploadedMedia;
  /**
   * How often a sync request re-reads its job besides listening for its end (`runner.events`
   * 'finished'; with PostgreSQL, notifications from every node). Default 1 s.
   */
  endedPollMs?: number;
  /** Registered keywords for `useDomainBoostings` (default: the config file's). */
  boostings?: DomainBoostings;
  /** Per-domain request rate and uploads at once, shared with the short route (default: these routes' own). */
  requestLimits?: DomainRequestLimits;
}

const PREFIXES = ['', '/external/v1/:domainId/:invokeKey'];
const TOKEN_PATTERN = /^[0-9a-f]{32}$/;
const JSON_BODY_LIMIT = 1024 * 1024;
const DEFAULT_ENDED_POLL_MS = 1000;
/** Retry-After of a refused upload: another upload of the domain has to finish first. */
const UPLOAD_RETRY_AFTER_S = 10;
/** Retry-After when the disk is full: the operator has to free space. */
const DISK_FULL_RETRY_AFTER_S = 60;
/** The job store's server restarting (cluster mode's PostgreSQL): back within seconds, usually. */
const STORE_DOWN_RETRY_AFTER_S = 5;
/** The object store holding uploads (cluster mode) unreachable or refusing. */
const MEDIA_STORE_DOWN_RETRY_AFTER_S = 10;

/** Sori's job list: `?limit=` (1-100, default 20) and `?offset=` (default 0). */
const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
const subtitleQuery = z.object({ format: z.enum(SUBTITLE_FORMATS) });

/** The first problem zod found, as `field: message`. */
function queryProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue?.path.join('.') || 'query'}: ${issue?.message ?? 'invalid'}`;
}

function newToken(): string {
  return randomBytes(16).toString('hex');
}

export async function clovaLongformRoutes(app: FastifyInstance, opts: LongformRouteOptions): Promise<void> {
  // This plugin's schemas describe its routes (OpenAPI); it checks its input itself, wherever it is mounted.
  schemasAreDocumentationOnly(app);
  addSharedSchemas(app, LONGFORM_SHARED_SCHEMAS);
  const { store, queue, runner, config, auth } = opts;
  const domains = new WeakMap<FastifyRequest, DomainConfig>();
  const requestLimits = opts.requestLimits ?? new DomainRequestLimits();
  const media = opts.media ?? new UploadedMedia(config.dataDir, undefined);
  const endedPollMs = opts.endedPollMs ?? DEFAULT_ENDED_POLL_MS;

  // Clients send `application/json;UTF-8` and other odd types: any body that is not multipart is
  // read as JSON text.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: JSON_BODY_LIMIT }, (_req, body, done) => {
    try {
      done(null, paramsFromText(typeof body === 'string' ? body : body.toString('utf8'), 'the request body'));
    } catch (err) {
      done(err as LongformError, undefined);
    }
  });
  await app.register(multipart, {
    limits: { fileSize: config.longform.maxBytes, files: 2, fields: 16, fieldSize: JSON_BODY_LIMIT, parts: 20 },
  });

  app.addHook('onRequest', async (request) => {
    const outcome = auth.authenticate(httpOrigin(request), request.headers[API_KEY_HEADER]);
    if (!outcome.ok) {
      if (outcome.reason === 'throttled') {
        const { retryAfterSeconds } = outcome;
        throw new LongformError('ERROR_TOO_MANY_AUTH_FAILURES', throttledMessage(retryAfterSeconds), undefined, { retryAfterSeconds });
      }
      throw new LongformError('ERROR_INVALID_SECRET', 'Invalid secret');
    }
    const { domain } = outcome;
    domains.set(request, domain);
    // Requests that create jobs count against the domain's rate; polling does not.
    if (request.method === 'POST') {
      const rate = requestLimits.takeRequest(domain, Date.now());
      if (!rate.allowed) {
        throw new LongformError(
          'ERROR_TOO_MANY_JOBS', `domain "${domain.name}" is over its ${domain.limits.requestsPerSecond} requests per second`, undefined, { retryAfterSeconds: rate.retryAfterS },
        );
      }
    }
  });

  /** Upload bodies being received at once, per domain: refused before the body is read. */
  const uploadSlots = new WeakMap<FastifyRequest, () => void>();
  const takeUploadSlot = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const domain = domainOf(request);
    const release = requestLimits.takeUpload(domain);
    if (release === undefined) {
      throw new LongformError(
        'ERROR_TOO_MANY_JOBS', `domain "${domain.name}" is already sending ${domain.limits.maxConcurrentUploads} uploads at once`, undefined, { retryAfterSeconds: UPLOAD_RETRY_AFTER_S },
      );
    }
    uploadSlots.set(request, release);
    // Released once the body is in (the handler), or whenever the exchange ends.
    reply.raw.once('close', release);
  };

  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const e = toLongformError(err);
    const domain = domains.get(request)?.name;
    if (e.code === 'ERROR_INTERNAL_ERROR' || isDiskFull(err) || err instanceof JobStoreUnavailableError || err instanceof MediaStoreUnavailableError) request.log.error({ err, domain }, 'long-form request failed');
    else request.log.info({ errorCode: e.code, reason: e.message, domain }, 'long-form request refused');
    if (e.retryAfterSeconds !== undefined) void reply.header('retry-after', String(e.retryAfterSeconds));
    return reply.code(e.status).send(e.body());
  });

  const domainOf = (request: FastifyRequest): DomainConfig => {
    const d = domains.get(request);
    if (d === undefined) throw new Error('long-form route reached without authentication');
    return d;
  };

  /** Queues the job (after its media is safely on disk), then answers per `completion`. */
  const accept = async (
    request: FastifyRequest,
    reply: FastifyReply,
    token: string,
    params: LongformParams,
    source: JobSource,
    /** Called once the job exists: its media belongs to it from then on, whatever this request becomes. */
    onCreated: () => void = () => undefined,
  ): Promise<unknown> => {
    const domain = domainOf(request);
    if ((await store.countUnfinished()) >= config.jobs.queueLimit) {
      if (params.completion === 'sync') throw new LongformError('ERROR_SERVER_BUSY', 'the server is saturated; retry later');
      throw new LongformError('ERROR_TOO_MANY_JOBS', `${config.jobs.queueLimit} jobs are already waiting or running`);
    }
    // The domain's set as registered now: a job resumed later still uses what it was accepted with.
    if (params.useDomainBoostings) params.domainKeywords = opts.boostings?.keywords(domain.name) ?? domain.boostings ?? [];
    await store.create({ token, domain: domain.name, params, source, createdAt: Date.now() });
    onCreated();
    await queue.notify();
    request.log.info({ token, domain: domain.name, source: source.kind, completion: params.completion, language: params.language }, 'job accepted');
    if (params.completion === 'async') return { result: 'SUCCEEDED', message: 'Succeeded', token };
    return answerSync(request, reply, token);
  };

  const answerSync = async (request: FastifyRequest, reply: FastifyReply, token: string): Promise<unknown> => {
    const ended = await waitForEnd(token, config.jobs.syncTimeoutSeconds * 1000);
    if (ended !== 'ended') {
      // The job goes on (here after a restart, or on another node): the client needs its token.
      const why = ended === 'closing' ? 'this server is shutting down and the job goes on' : `no result within ${config.jobs.syncTimeoutSeconds} s`;
      const error = new LongformError('ERROR_GATEWAY_TIMEOUT', `${why}; poll GET /recognizer/${token}`);
      request.log.info({ token, errorCode: error.code, reason: error.message }, 'sync wait ended without a result');
      return reply.code(error.status).send(error.body(token));
    }
    const job = await store.get(token);
    if (job === undefined) throw new Error('job vanished');
    if (job.state === 'COMPLETED') return sendResult(request, reply, statusBody(job));
    const code = job.errorCode !== null && isLongformErrorCode(job.errorCode) ? job.errorCode : 'ERROR_INTERNAL_ERROR';
    const status = job.state === 'TIMEOUT' ? 504 : LONGFORM_ERRORS[code];
    return reply.code(status).send({ result: code, message: job.errorMessage ?? code, token });
  };

  /**
   * The end of a job comes as an event: run here, or (PostgreSQL) on any node, through NOTIFY.
   * The store is re-read when the notification connection comes back and every `endedPollMs`,
   * for an end whose event was missed.
   */
  const waitForEnd = (token: string, timeoutMs: number): Promise<'ended' | 'timeout' | 'closing'> =>
    new Promise((resolve) => {
      let settled = false;
      const done = (value: 'ended' | 'timeout' | 'closing'): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(poll);
        runner.events.off('finished', onFinished);
        runner.events.off('closing', onClosing);
        runner.events.off('recheck', recheck);
        resolve(value);
      };
      const recheck = (): void => {
        store.get(token).then((j) => {
          if (j !== undefined && j.state !== 'WAITING' && j.state !== 'PROCESSING') done('ended');
        }, () => undefined);
      };
      const onFinished = (t: string): void => {
        if (t === token) done('ended');
      };
      // Shutting down: answer now (the job resumes after the restart; the token is in the answer).
      const onClosing = (): void => done('closing');
      const timer = setTimeout(() => done('timeout'), timeoutMs);
      const poll = setInterval(recheck, endedPollMs);
      runner.events.on('finished', onFinished);
      runner.events.on('closing', onClosing);
      runner.events.on('recheck', recheck);
    });

  for (const prefix of PREFIXES) {
    const schemas = longformRouteSchemas(prefix !== '', { list: listQuery, subtitle: subtitleQuery });
    app.post(`${prefix}/recognizer/url`, { schema: schemas.url }, async (request, reply) => {
      const body = objectBody(request.body);
      const params = parseLongformParams(body, domainOf(request).defaultLanguage);
      const url = body.url;
      if (typeof url !== 'string' || url.trim() === '') throw new LongformError('ERROR_REQUEST_PARAMETER', 'url: required');
      let parsed: URL;
      try {
        parsed = new URL(url.trim());
      } catch {
        throw new LongformError('ERROR_REQUEST_PARAMETER', 'url: not a valid URL');
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        throw new LongformError('ERROR_REQUEST_PARAMETER', 'url: only http and https URLs are accepted');
      }
      return accept(request, reply, newToken(), params, { kind: 'url', url: parsed.href });
    });

    app.post(`${prefix}/recognizer/object-storage`, { schema: schemas.objectStorage }, async (request, reply) => {
      const body = objectBody(request.body);
      const params = parseLongformParams(body, domainOf(request).defaultLanguage);
      const key = body.dataKey ?? body.datakey;
      if (typeof key !== 'string' || key.trim() === '') throw new LongformError('ERROR_REQUEST_PARAMETER', 'dataKey: required');
      if (!opts.objectStorageConfigured) throw new LongformError('ERROR_EXTERNAL_ERROR', 'no object storage is configured on this server');
      return accept(request, reply, newToken(), params, { kind: 'object-storage', key: key.replace(/^\/+/, '') });
    });

    app.post(`${prefix}/recognizer/upload`, { onRequest: takeUploadSlot, schema: schemas.upload }, async (request, reply) => {
      if (!request.isMultipart()) throw new LongformError('ERROR_REQUEST_PARAMETER', 'expected multipart/form-data with parts "media" and "params"');
      const token = newToken();
      const part = `${mediaPath(config.dataDir, token)}.part`;
      let kept: JobSource | undefined;
      let accepted = false;
      try {
        const upload = await receiveUpload(request, part)
          .catch((err: unknown) => {
            throw uploadError(err);
          })
          .finally(() => uploadSlots.get(request)?.());
        if (upload.bytes === 0) throw new LongformError('ERROR_AUDIO_EMPTY', upload.hadMedia ? 'the media part is empty' : 'no "media" part in the request');
        const params = parseLongformParams(upload.params, domainOf(request).defaultLanguage);
        // On this disk, or (cluster mode) in the object store, before the job exists.
        kept = await media.keep(token, part, upload.filename);
        // A sync request that then times out (504) leaves a job that still needs its media.
        return await accept(request, reply, token, params, kept, () => {
          accepted = true;
        });
      } finally {
        await rm(part, { force: true });
        if (!accepted && kept !== undefined) {
          await media.discard(kept).catch((err: unknown) => request.log.warn({ err, token }, 'removing the media of a refused upload failed'));
        }
      }
    });

    app.get<{ Params: { token: string } }>(`${prefix}/recognizer/:token`, { schema: schemas.status }, async (request, reply) => {
      const job = await ownJob(request);
      return sendResult(request, reply, statusBody(job));
    });

    // Sori's addition: the caller's domain's jobs, newest first, a page at a time.
    app.get(`${prefix}/recognizer`, { schema: schemas.list }, async (request) => {
      const query = listQuery.safeParse(request.query);
      if (!query.success) throw new LongformError('ERROR_REQUEST_PARAMETER', queryProblem(query.error));
      const { limit, offset } = query.data;
      const jobs = await store.list(domainOf(request).name, { limit, offset });
      return {
        jobs: jobs.map((j) => ({
          token: j.token,
          state: j.state,
          progress: j.progress,
          createdAt: new Date(j.createdAt).toISOString(),
          finishedAt: j.finishedAt === null ? null : new Date(j.finishedAt).toISOString(),
          source: j.source.kind,
          fileName: j.source.kind === 'upload' ? (j.source.filename ?? null) : null,
        })),
        limit,
        offset,
        // A full page may have a next one; a short page is the last.
        next: jobs.length === limit ? offset + limit : null,
      };
    });

    // Sori's addition: a completed job's subtitles in any of CLOVA's formats, not only the one it ran with.
    app.get<{ Params: { token: string } }>(`${prefix}/recognizer/:token/subtitle`, { schema: schemas.subtitle }, async (request, reply) => {
      const query = subtitleQuery.safeParse(request.query);
      if (!query.success) throw new LongformError('ERROR_REQUEST_PARAMETER', queryProblem(query.error));
      const job = await ownJob(request);
      const text = subtitleOf(job, query.data.format, config.subtitles?.lineChars);
      if (text === undefined) return statusBody(job);
      return reply.type(SUBTITLE_CONTENT_TYPES[query.data.format]).send(text);
    });

    // Sori's addition: every delivery of the job's result (callback, object storage) and each attempt.
    app.get<{ Params: { token: string } }>(`${prefix}/recognizer/:token/deliveries`, { schema: schemas.deliveries }, async (request) => {
      const job = await ownJob(request);
      return { token: job.token, ...(await store.deliveries(job.token)) };
    });
  }

  const ownJob = async (request: FastifyRequest<{ Params: { token: string } }>) => {
    const token = request.params.token.toLowerCase();
    const job = TOKEN_PATTERN.test(token) ? await store.get(token) : undefined;
    // Another domain's job is as unknown as a made-up token.
    if (job === undefined || job.domain !== domainOf(request).name) {
      throw new LongformError('ERROR_TOKEN_INVALID', 'unknown token');
    }
    return job;
  };
}

interface Upload {
  bytes: number;
  hadMedia: boolean;
  filename: string | undefined;
  /** The `params` part as read (JSON not yet validated as params); `{}` when there was none. */
  params: unknown;
}

/**
 * Reads the parts in whatever order they come. `media` streams to `dest`. `params` is read
 * whatever shape it arrives in: a text field, a field typed `application/json` (which the
 * multipart plugin has already parsed), or a file part with or without a filename, in any
 * charset its type names. Part content types are otherwise ignored (the Java sample labels the
 * media part `multipart/form-data`).
 */
async function receiveUpload(request: FastifyRequest, dest: string): Promise<Upload> {
  const out: Upload = { bytes: 0, hadMedia: false, filename: undefined, params: {} };
  let sawParams = false;
  const takeParams = (value: unknown): void => {
    // Two different `params` would leave one of them silently unused.
    if (sawParams) throw new LongformError('ERROR_PARAMS_FORMAT_INVALID', 'more than one "params" part');
    sawParams = true;
    out.params = value;
  };
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname === 'media' && !out.hadMedia) {
        out.hadMedia = true;
        out.filename = part.filename || undefined;
        let bytes = 0;
        part.file.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        await pipeline(part.file as Readable, createWriteStream(dest));
        out.bytes = bytes;
      } else if (part.fieldname === 'params') {
        takeParams(paramsFromText(decodeText(await part.toBuffer(), part.mimetype)));
      } else {
        part.file.resume();
      }
    } else if (part.fieldname === 'params') {
      // A string, or what the plugin made of a field typed application/json.
      takeParams(typeof part.value === 'string' ? paramsFromText(part.value) : part.value);
    } else if (part.fieldname === 'media' && !out.hadMedia && typeof part.value === 'string') {
      // A client that sent the media as a plain field (small files only: fieldSize bounds it).
      out.hadMedia = true;
      const data = Buffer.from(part.value, 'latin1');
      await pipeline(async function* () { yield data; }, createWriteStream(dest));
      out.bytes = data.length;
    }
  }
  return out;
}

/** A file part's text in the charset its Content-Type names (UTF-8 when it names none, or one Node does not know). */
function decodeText(bytes: Buffer, mimetype: string): string {
  const label = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(mimetype)?.[1];
  if (label !== undefined) {
    try {
      return new TextDecoder(label).decode(bytes);
    } catch {
      // An unknown label: read it as UTF-8, as if none were given.
    }
  }
  return bytes.toString('utf8');
}

function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new LongformError('ERROR_PARAMS_FORMAT_INVALID', 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/**
 * An error while the multipart body was read is the client's (a body cut short, a Content-Type
 * without a boundary, a part with broken headers: busboy says so in plain Errors without a code),
 * unless it is already classified, a limit the plugin names (FST_*), or our own disk failing (an
 * fs error, which names its syscall): those keep their meaning.
 */
function uploadError(err: unknown): unknown {
  if (err instanceof LongformError) return err;
  const e = err as { code?: unknown; syscall?: unknown } | null;
  if (typeof e?.syscall === 'string') return err;
  if (typeof e?.code === 'string' && e.code.startsWith('FST_')) return err;
  return new LongformError('ERROR_REQUEST_PARAMETER', 'malformed or incomplete multipart body');
}

const MULTIPART_LIMIT_CODES = new Set(['FST_REQ_FILE_TOO_LARGE', 'FST_PARTS_LIMIT', 'FST_FILES_LIMIT', 'FST_FIELDS_LIMIT']);

function toLongformError(err: unknown): LongformError {
  if (err instanceof LongformError) return err;
  // The server's fault, and a passing one: "no capacity", retry later. Nothing was stored (the
  // upload's files are removed, the job row never committed).
  if (isDiskFull(err)) {
    return new LongformError('ERROR_SERVER_BUSY', 'the server has no disk space left; nothing was stored, retry later', undefined, { retryAfterSeconds: DISK_FULL_RETRY_AFTER_S });
  }
  if (err instanceof JobStoreUnavailableError) {
    return new LongformError('ERROR_SERVER_BUSY', 'the job store is unavailable; nothing was stored, retry later', undefined, { retryAfterSeconds: STORE_DOWN_RETRY_AFTER_S });
  }
  if (err instanceof MediaStoreUnavailableError) {
    return new LongformError('ERROR_SERVER_BUSY', 'the media store is unavailable; nothing was stored, retry later', undefined, { retryAfterSeconds: MEDIA_STORE_DOWN_RETRY_AFTER_S });
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return new LongformError('ERROR_REQUEST_PARAMETER', 'the media is larger than the upload limit', 413);
  if (typeof code === 'string' && MULTIPART_LIMIT_CODES.has(code)) return new LongformError('ERROR_REQUEST_PARAMETER', 'too many parts in the upload');
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new LongformError('ERROR_REQUEST_PARAMETER', 'the JSON body is too large', 413);
  // A form field typed application/json whose text is not JSON (or names __proto__).
  if (code === 'FST_INVALID_JSON_FIELD_ERROR') return new LongformError('ERROR_PARAMS_FORMAT_INVALID', 'a form field typed application/json is not valid JSON');
  if (code === 'FST_PROTO_VIOLATION') return new LongformError('ERROR_REQUEST_PARAMETER', 'a form field may not be named after an Object property');
  if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE' || code === 'FST_MULTIPART_MISSING_BOUNDARY') {
    return new LongformError('ERROR_REQUEST_PARAMETER', 'malformed multipart body');
  }
  if (typeof code === 'string' && code.startsWith('FST_ERR_CTP')) return new LongformError('ERROR_PARAMS_FORMAT_INVALID', 'the request body could not be read');
  if ((err as Error | null)?.message?.includes('Unexpected end of form')) return new LongformError('ERROR_REQUEST_PARAMETER', 'the upload ended before it was complete');
  return new LongformError('ERROR_INTERNAL_ERROR', 'internal error');
}
