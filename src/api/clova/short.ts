/**
 * POST /recog/v1/stt: CLOVA Speech short recognition (spec section 1).
 *
 * Order of checks, first failure wins (the cheap ones run before the body is read):
 *   0. the client address failed auth too often lately -> 429 STT008, Retry-After (key unchecked)
 *   1. X-CLOVASPEECH-API-KEY            -> 401 "Invalid secret"
 *   2. domain over its request rate     -> 503 STT007, Retry-After: seconds until a request is allowed
 *   3. lang missing / empty             -> STT004; not Kor|Eng|Jpn|Chn -> STT005
 *   4. other query values malformed     -> 400 "Invalid request parameters"
 *   5. Content-Type not octet-stream    -> STT002
 *   6. Content-Length over the domain's shortMaxBytes -> STT001 (nothing read)
 *   7. body crosses shortMaxBytes while streaming     -> STT001 (the rest is discarded)
 *   8. empty body                       -> STT003
 *   9. decode: longer than shortMaxSeconds -> STT001 (ffmpeg stops reading just past it);
 *      not decodable / no audio / over media.decodeTimeoutSeconds or media.memoryLimitMb -> STT006
 *  10. engine queue full, or no disk space for the temp file -> 503 STT007 (Sori's addition), Retry-After: 1
 *  11. engine failure                   -> STT998
 *  12. anything else                    -> STT999
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DomainConfig, MediaLimits } from '../../config.js';
import { decodeBuffer, MediaError, toolLimits, type MediaErrorKind } from '../../media/decode.js';
import { amplitudeEnvelope } from '../../media/envelope.js';
import { AssessmentUnavailableError, EngineBusyError, EngineFailedError, type SpeechEngine, type Transcript } from '../../speech/engine.js';
import { formatDetails } from '../../speech/assessment/details.js';
import { alignReferenceGraph } from '../../media/graph-alignment.js';
import { keywordCorrector } from '../../transcript/boosting.js';
import { toSimplified } from '../../transcript/chinese.js';
import { BodyIncompleteError, BodyTooLargeError, declaredLength, readRawBody } from '../raw-body.js';
import { API_KEY_HEADER, httpOrigin, type AuthGate } from '../../domains/auth.js';
import { isDiskFull } from '../../jobs/failures.js';
import { DomainRequestLimits } from '../../domains/request-limits.js';
import { ClovaShortError, SHORT_ERRORS, shortErrorBody, type ShortErrorKind } from '../../clova/short-errors.js';
import { parseShortQuery, type ShortQuery } from '../../clova/short-query.js';
import { SHORT_SHARED_SCHEMAS, shortRouteSchema } from './short-schema.js';
import { addSharedSchemas } from '../docs/common.js';
import { schemasAreDocumentationOnly } from '../docs/documentation-only.js';

export const SHORT_PATH = '/recog/v1/stt';

/** CLOVA bills short recognition in 15-second units. */
const QUOTA_UNIT_S = 15;

export interface ShortRouteOptions {
  engine: SpeechEngine;
  domains: readonly DomainConfig[];
  /** The process's one gate: secrets of `domains` plus the per-client throttle. */
  auth: AuthGate;
  /** Per-domain request rate, shared with the long-form routes (default: this route's own). */
  requestLimits?: DomainRequestLimits;
  /** ffmpeg's time and memory bounds (default: the config defaults). */
  media?: MediaLimits;
}

export interface ShortResponse {
  text: string;
  quota: number;
  assessment_score?: number;
  assessment_details?: string;
  ref_graph?: number[];
  usr_graph?: number[];
}

interface ShortContext {
  domain: DomainConfig;
  query: ShortQuery;
}

/** Audio seconds rounded up to whole 15-second units (4 s -> 15, 30 s -> 30, 31 s -> 45). */
export function quotaSeconds(durationS: number): number {
  // Millisecond rounding first, so 30 s of samples that float math makes 30.0000001 stays 30.
  const ms = Math.round(durationS * 1000);
  return Math.max(1, Math.ceil(ms / (QUOTA_UNIT_S * 1000))) * QUOTA_UNIT_S;
}

export function isOctetStream(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(';', 1)[0].trim().toLowerCase() === 'application/octet-stream';
}

const MEDIA_ERROR_KIND: Readonly<Record<MediaErrorKind, ShortErrorKind>> = {
  empty: 'emptySound',
  'no-audio': 'preprocessing',
  undecodable: 'preprocessing',
  'too-long': 'tooLong',
};

/** Fastify's own errors on this route, in CLOVA's vocabulary. */
const FASTIFY_ERROR_KIND: Readonly<Record<string, ShortErrorKind>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'tooLong',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'badContentType',
  FST_ERR_CTP_INVALID_TYPE: 'badContentType',
  FST_ERR_CTP_EMPTY_TYPE: 'badContentType',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'badParams',
  FST_ERR_VALIDATION: 'badParams',
};

/** Node aborts a request whose client hung up mid-body with an ECONNRESET "aborted" error. */
function hungUpDuringUpload(request: FastifyRequest, err: unknown): boolean {
  return request.raw.readableAborted || (err as NodeJS.ErrnoException | null)?.code === 'ECONNRESET';
}

function classify(err: unknown): ShortErrorKind {
  if (err instanceof ClovaShortError) return err.kind;
  // The body goes to a temp file for ffmpeg: a full temp dir is "no capacity", retry later.
  if (isDiskFull(err)) return 'busy';
  if (err instanceof BodyTooLargeError) return 'tooLong';
  if (err instanceof BodyIncompleteError) return 'badParams';
  if (err instanceof MediaError) return MEDIA_ERROR_KIND[err.kind];
  if (err instanceof EngineBusyError) return 'busy';
  if (err instanceof EngineFailedError) return 'sttFailed';
  if (err instanceof AssessmentUnavailableError) return 'badParams';
  const code = (err as Partial<FastifyError> | null)?.code;
  if (typeof code === 'string' && code in FASTIFY_ERROR_KIND) return FASTIFY_ERROR_KIND[code];
  return 'internal';
}

/** `assessment_score`, `assessment_details` and, with the user's graph, `ref_graph` on its time axis. */
function assessmentFields(transcript: Transcript, userGraph: number[] | undefined): Partial<ShortResponse> {
  const outcome = transcript.assessment;
  if (outcome === undefined) throw new Error('the engine answered an assessment request without an assessment');
  const fields: Partial<ShortResponse> = {
    assessment_score: outcome.assessment.score,
    assessment_details: formatDetails(outcome.assessment),
  };
  if (userGraph !== undefined) fields.ref_graph = alignReferenceGraph(outcome.referenceEnvelope ?? [], userGraph);
  return fields;
}

export async function clovaShortRoutes(app: FastifyInstance, opts: ShortRouteOptions): Promise<void> {
  // This plugin's schemas describe its routes (OpenAPI); it checks its input itself, wherever it is mounted.
  schemasAreDocumentationOnly(app);
  addSharedSchemas(app, SHORT_SHARED_SCHEMAS);
  const { engine, auth } = opts;
  const requestLimits = opts.requestLimits ?? new DomainRequestLimits();
  const tools = toolLimits(opts.media);
  const contexts = new WeakMap<FastifyRequest, ShortContext>();
  if (opts.domains.length === 0) throw new Error('the short recognition route needs at least one domain');
  // Fastify needs one route-wide bound; each domain's own (possibly smaller) one applies per request.
  const routeBodyLimit = Math.max(...opts.domains.map((d) => d.limits.shortMaxBytes));

  // Runs before the body is read, so a rejected request never costs its upload.
  const admit = async (request: FastifyRequest): Promise<void> => {
    const outcome = auth.authenticate(httpOrigin(request), request.headers[API_KEY_HEADER]);
    if (!outcome.ok) {
      if (outcome.reason === 'throttled') {
        throw new ClovaShortError('throttled', `client ${outcome.client} is throttled`, { retryAfterSeconds: outcome.retryAfterSeconds });
      }
      throw new ClovaShortError('badSecret', outcome.reason === 'missing' ? 'no secret' : `wrong secret from ${outcome.client}`);
    }
    const { domain } = outcome;
    const rate = requestLimits.takeRequest(domain, Date.now());
    if (!rate.allowed) {
      throw new ClovaShortError('busy', `domain "${domain.name}" is over its ${domain.limits.requestsPerSecond} requests per second`, {
        retryAfterSeconds: rate.retryAfterS,
      });
    }
    const query = parseShortQuery(request.query);
    if (!isOctetStream(request.headers['content-type'])) throw new ClovaShortError('badContentType');
    const length = declaredLength(request.headers['content-length']);
    if (length !== undefined && length > domain.limits.shortMaxBytes) throw new ClovaShortError('tooLong');
    contexts.set(request, { domain, query });
  };

  // This plugin is encapsulated: these parsers replace the JSON ones for this route only.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', async (request: FastifyRequest, payload: IncomingMessage) => {
    const limit = contexts.get(request)?.domain.limits.shortMaxBytes ?? routeBodyLimit;
    return readRawBody(payload, Math.min(limit, routeBodyLimit), declaredLength(request.headers['content-length']));
  });

  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    if (hungUpDuringUpload(request, err)) {
      // The client's doing (it closed the connection before its body was whole), not the
      // server's: one info line, and 499 for the metrics, as when it hangs up later.
      request.log.info({ domain: contexts.get(request)?.domain.name }, 'client disconnected during the upload');
      return reply.code(499).send(shortErrorBody('internal'));
    }
    const kind = classify(err);
    const spec = SHORT_ERRORS[kind];
    const fields = { errorCode: spec.errorCode, domain: contexts.get(request)?.domain.name };
    // Server faults get the whole error; the client's own mistakes (bad media included) and a
    // full queue are routine and get one short line.
    if (kind === 'internal' || kind === 'sttFailed' || isDiskFull(err)) request.log.error({ ...fields, err }, 'short recognition failed');
    else if (kind === 'busy') request.log.warn({ ...fields, reason: (err as Error | null)?.message }, 'short recognition refused: busy');
    else request.log.info({ ...fields, reason: (err as Error | null)?.message }, 'short recognition refused');
    if (err instanceof ClovaShortError && err.retryAfterSeconds !== undefined) void reply.header('retry-after', String(err.retryAfterSeconds));
    else if (kind === 'busy') void reply.header('retry-after', '1');
    return reply.code(spec.status).send(shortErrorBody(kind));
  });

  app.post(SHORT_PATH, { bodyLimit: routeBodyLimit, onRequest: admit, schema: shortRouteSchema }, async (request, reply) => {
    const ctx = contexts.get(request);
    if (ctx === undefined) throw new Error('short route reached its handler without admission');
    const body = request.body;
    if (!Buffer.isBuffer(body) || body.length === 0) throw new ClovaShortError('emptySound');

    // The client hanging up must stop ffmpeg and the engine, not just drop the answer.
    const abort = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableEnded) abort.abort(new Error('client disconnected'));
    };
    reply.raw.on('close', onClose);
    try {
      const audio = await decodeBuffer(body, { ...tools, maxSeconds: ctx.domain.limits.shortMaxSeconds, signal: abort.signal });
      const { query } = ctx;
      const transcript = await engine.transcribe(audio.pcm, {
        language: query.language,
        // Keyword boosting: decoding bias in the engine, near misses corrected below.
        boost: query.keywords.length > 0 ? { keywords: query.keywords } : undefined,
        assessment: query.assessment ? { text: query.utterance, reference: query.graph } : undefined,
        priority: 'short',
        signal: abort.signal,
      });
      const raw = transcript.text.trim();
      const converted = query.language === 'zh' ? toSimplified(raw) : raw;
      const corrector = keywordCorrector(query.keywords, query.language);
      const response: ShortResponse = {
        text: corrector === undefined ? converted : corrector.apply(converted),
        quota: quotaSeconds(audio.durationS),
      };
      const userGraph = query.graph ? amplitudeEnvelope(audio.pcm) : undefined;
      if (query.assessment) Object.assign(response, assessmentFields(transcript, userGraph));
      if (userGraph !== undefined) response.usr_graph = userGraph;
      request.log.info(
        { domain: ctx.domain.name, language: query.language, audioS: audio.durationS, quota: response.quota },
        'short recognition done',
      );
      return response;
    } catch (err) {
      if (abort.signal.aborted) {
        // Nobody is left to read an answer; 499 (nginx's "client closed request") only makes
        // sure nothing downstream mistakes this for a server failure.
        request.log.info({ domain: ctx.domain.name }, 'client disconnected; short recognition aborted');
        return reply.code(499).send(shortErrorBody('internal'));
      }
      throw err;
    } finally {
      reply.raw.off('close', onClose);
    }
  });
}
