/**
 * The OpenAI-compatible API, mounted under /v1 (docs/api/openai.md):
 *   POST /v1/audio/transcriptions   multipart `file` + fields -> json | text | srt | vtt | verbose_json,
 *                                   or server-sent events with `stream=true`
 *   POST /v1/audio/translations     the same, English text (Whisper's translate task)
 *   GET  /v1/models, /v1/models/{id}
 *
 * Order of checks, first failure wins (the cheap ones before the body is read):
 *   0. the client address failed auth too often lately -> 429 rate_limit_exceeded, Retry-After
 *   1. `Authorization: Bearer <domain secret>`          -> 401 invalid_api_key
 *   2. not multipart/form-data                          -> 400 invalid_content_type
 *   3. Content-Length far over openai.maxBytes           -> 413 file_too_large (nothing read)
 *   4. the file part crosses openai.maxBytes             -> 413 file_too_large (the rest discarded)
 *   5. no file / fields missing or malformed            -> 400 (param names the field)
 *   6. model not installed                              -> 404 model_not_found
 *   7. media empty, undecodable, no audio               -> 400 invalid_file_format; too long -> 400 audio_too_long
 *   8. engine queue full                                -> 503 server_busy, Retry-After: 1
 *   9. anything else                                    -> 500 server_error
 * With `stream=true` the events start once the first text is ready, so every failure up to
 * then is still an HTTP status; a failure after it is an `error` event, then the stream ends.
 */
import { PassThrough } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DomainConfig, OpenAIConfig } from '../../config.js';
import { bearerToken, httpOrigin, throttledMessage, type AuthGate } from '../../domains/auth.js';
import type { Task } from '../../speech/engine.js';
import type { ModelEngines } from '../../speech/model-engines.js';
import type { SileroVad } from '../../speech/vad/silero.js';
import { declaredLength } from '../raw-body.js';
import { fileTooLarge, missingParameter, modelNotFound, OpenAIError, toOpenAIError } from './errors.js';
import { deltaEvent, doneEvent, formatResult, joinTexts, sseEvent, type AudioResult } from './formats.js';
import { parseAudioRequest, WHISPER_1 } from './params.js';
import { recognizeAudio, type AudioSeen, type RecognizedPart } from './recognize.js';
import { receiveAudioUpload } from './upload.js';
import { modelRouteSchema, modelsSchema, OPENAI_SHARED_SCHEMAS, transcriptionsSchema, translationsSchema } from './schema.js';
import { addSharedSchemas } from '../docs/common.js';
import { SAMPLE_RATE } from '../../audio.js';
import { schemasAreDocumentationOnly } from '../docs/documentation-only.js';

export interface OpenAIRouteOptions {
  /** The process's one gate: the domains' secrets plus the per-client throttle. */
  auth: AuthGate;
  /** The engines by model name (`whisper-1` is the default model's). */
  models: ModelEngines;
  /** Silero VAD, for files longer than one window. */
  vad: () => Promise<SileroVad>;
  config: { openai: OpenAIConfig };
}

/** The multipart envelope and text fields on top of the file (Content-Length check only). */
const ENVELOPE_BYTES = 1024 * 1024;
const FIELD_BYTES = 64 * 1024;

interface Admitted {
  domain: DomainConfig;
}

/** Node aborts a request whose client hung up mid-body with an ECONNRESET "aborted" error. */
function hungUpDuringUpload(request: FastifyRequest, err: unknown): boolean {
  return request.raw.readableAborted || (err as NodeJS.ErrnoException | null)?.code === 'ECONNRESET';
}

export async function openaiRoutes(app: FastifyInstance, opts: OpenAIRouteOptions): Promise<void> {
  // This plugin's schemas describe its routes (OpenAPI); it checks its input itself, wherever it is mounted.
  schemasAreDocumentationOnly(app);
  addSharedSchemas(app, OPENAI_SHARED_SCHEMAS);
  const { auth, models } = opts;
  const { maxBytes, maxSeconds } = opts.config.openai;
  const limits = { maxBytes, maxSeconds };
  const admitted = new WeakMap<FastifyRequest, Admitted>();

  // Only multipart bodies are read (by the plugin, lazily); any other body is left unread and
  // the route answers 400.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
  await app.register(multipart, {
    limits: { fileSize: maxBytes, files: 4, fields: 32, fieldSize: FIELD_BYTES, parts: 40 },
  });

  app.addHook('onRequest', async (request) => {
    const outcome = auth.authenticate(httpOrigin(request), bearerToken(request.headers.authorization));
    if (outcome.ok) {
      admitted.set(request, { domain: outcome.domain });
      return;
    }
    if (outcome.reason === 'throttled') {
      throw new OpenAIError(429, throttledMessage(outcome.retryAfterSeconds), {
        type: 'requests', code: 'rate_limit_exceeded', retryAfterSeconds: outcome.retryAfterSeconds,
      });
    }
    throw new OpenAIError(
      401,
      outcome.reason === 'missing'
        ? "You didn't provide an API key. Send your domain's secret as `Authorization: Bearer <secret>`."
        : 'Incorrect API key provided.',
      { code: 'invalid_api_key' },
    );
  });

  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const domain = admitted.get(request)?.domain.name;
    if (hungUpDuringUpload(request, err)) {
      // The client's doing, not the server's: one info line, and 499 for the metrics.
      request.log.info({ domain }, 'client disconnected during the upload');
      return reply.code(499).send(new OpenAIError(499, 'The client closed the request').body());
    }
    const e = toOpenAIError(err, limits);
    const fields = { domain, status: e.status, code: e.code };
    if (e.status >= 500 && e.status !== 503) request.log.error({ ...fields, err }, 'openai request failed');
    else if (e.status === 503) request.log.warn(fields, 'openai request refused: engine busy');
    else request.log.info({ ...fields, reason: e.message }, 'openai request refused');
    if (e.retryAfterSeconds !== undefined) void reply.header('retry-after', String(e.retryAfterSeconds));
    return reply.code(e.status).send(e.body());
  });

  // OpenAI's answer to a path it does not serve.
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(new OpenAIError(404, `Invalid URL (${request.method} ${request.url.split('?')[0]})`).body());
  });

  const audioRoute = (task: Task) => async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const ctx = admitted.get(request);
    if (ctx === undefined) throw new Error('openai route reached its handler without admission');
    if (!request.isMultipart()) throw new OpenAIError(400, 'The request must be multipart/form-data with a `file` part', { code: 'invalid_content_type' });
    const length = declaredLength(request.headers['content-length']);
    if (length !== undefined && length > maxBytes + ENVELOPE_BYTES) throw fileTooLarge(maxBytes);

    const upload = await receiveAudioUpload(request, maxBytes, FIELD_BYTES);
    // Set once a stream owns the lease and the upload (it releases them when it ends).
    let streaming = false;
    try {
      if (upload.path === undefined) throw missingParameter('file', 'you must provide a file parameter (the audio, as a multipart file part)');
      if (upload.bytes === 0) throw new OpenAIError(400, 'The file is empty', { param: 'file', code: 'invalid_file_format' });
      const params = parseAudioRequest(upload.fields, task);
      const modelName = params.model === WHISPER_1 ? models.defaultModel : params.model;
      const lease = models.acquire(modelName);
      if (lease === undefined) throw modelNotFound(params.model);

      // The client hanging up must stop ffmpeg and the engine, not just drop the answer.
      const abort = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableEnded) abort.abort(new Error('client disconnected'));
      };
      reply.raw.on('close', onClose);
      const seen: AudioSeen = { samples: 0 };
      const parts = recognizeAudio({ engine: lease.engine, vad: opts.vad, path: upload.path, request: params, maxSeconds, signal: abort.signal }, seen);
      const done = (message: string, extra: object = {}): void =>
        request.log.info(
          {
            domain: ctx.domain.name, task, model: modelName, format: params.responseFormat, stream: params.stream,
            audioS: seen.samples / SAMPLE_RATE, language: seen.language, ...extra,
          },
          message,
        );
      try {
        if (params.stream) {
          streaming = true;
          const release = async (): Promise<void> => {
            reply.raw.off('close', onClose);
            lease.release();
            await upload.dispose();
          };
          return await streamAnswer({ request, reply, parts, signal: abort.signal, limits, release, done });
        }
        const texts: string[] = [];
        const segments: RecognizedPart['segments'] = [];
        for await (const part of parts) {
          texts.push(part.text);
          segments.push(...part.segments);
        }
        const result: AudioResult = {
          task, language: seen.language ?? params.language ?? 'en', durationS: seen.samples / SAMPLE_RATE, text: joinTexts(texts), segments,
        };
        const answer = formatResult(result, params);
        done(`openai ${task === 'translate' ? 'translation' : 'transcription'} done`);
        return reply.type(answer.contentType).send(answer.body);
      } catch (err) {
        if (!abort.signal.aborted) throw err;
        // Nobody is left to read an answer; 499 only keeps this from counting as a server failure.
        request.log.info({ domain: ctx.domain.name }, 'client disconnected; openai recognition aborted');
        return reply.code(499).send(new OpenAIError(499, 'The client closed the request').body());
      } finally {
        if (!streaming) {
          reply.raw.off('close', onClose);
          lease.release();
        }
      }
    } finally {
      if (!streaming) await upload.dispose();
    }
  };

  app.post('/audio/transcriptions', { schema: transcriptionsSchema }, audioRoute('transcribe'));
  app.post('/audio/translations', { schema: translationsSchema }, audioRoute('translate'));

  const modelObject = (id: string, createdS: number) => ({ id, object: 'model', created: createdS, owned_by: 'sori' });
  const modelList = () => {
    const available = models.available();
    const [own] = available;
    return [modelObject(WHISPER_1, own.createdS), ...available.map((m) => modelObject(m.name, m.createdS))];
  };
  app.get('/models', { schema: modelsSchema }, async () => ({ object: 'list', data: modelList() }));
  app.get<{ Params: { id: string } }>('/models/:id', { schema: modelRouteSchema }, async (request) => {
    const found = modelList().find((m) => m.id === request.params.id);
    if (found === undefined) throw modelNotFound(request.params.id);
    return found;
  });
}

interface StreamAnswer {
  request: FastifyRequest;
  reply: FastifyReply;
  parts: AsyncGenerator<RecognizedPart>;
  signal: AbortSignal;
  limits: { maxBytes: number; maxSeconds: number };
  /** Releases what the request holds (engine lease, upload); called once, when the stream ends. */
  release: () => Promise<void>;
  done: (message: string, extra?: object) => void;
}

/**
 * Server-sent events: a `transcript.text.delta` per part (the first one's text, then each next
 * one's with a leading space, so the deltas add up to the final text), then
 * `transcript.text.done`. Headers go out with the first delta (or the done event): a failure
 * before that is still an HTTP status, thrown from here; one after it is an `error` event.
 */
async function streamAnswer({ request, reply, parts, signal, limits, release, done }: StreamAnswer): Promise<unknown> {
  let first: IteratorResult<RecognizedPart>;
  try {
    first = await parts.next();
  } catch (err) {
    await release();
    throw err;
  }
  const out = new PassThrough();
  const texts: string[] = [];
  const send = (part: RecognizedPart): void => {
    const text = part.text.trim();
    if (text === '') return;
    out.write(deltaEvent(texts.length === 0 ? text : ` ${text}`));
    texts.push(text);
  };
  if (first.done !== true) send(first.value);
  // The rest, while the answer streams.
  void (async () => {
    try {
      if (first.done !== true) for await (const part of parts) send(part);
      out.end(doneEvent(joinTexts(texts)));
      done('openai transcription streamed', { deltas: texts.length });
    } catch (err) {
      if (signal.aborted) {
        request.log.info('client disconnected; openai stream aborted');
        out.destroy();
      } else {
        const e = toOpenAIError(err, limits);
        if (e.status >= 500) request.log.error({ err }, 'openai stream failed');
        else request.log.info({ reason: e.message, status: e.status }, 'openai stream ended by an error');
        out.end(sseEvent(e.body(), 'error'));
      }
    } finally {
      await release();
    }
  })();
  return reply
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache')
    .header('x-accel-buffering', 'no')
    .send(out);
}
