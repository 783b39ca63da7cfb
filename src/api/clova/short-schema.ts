/**
 * The OpenAPI description of POST /recog/v1/stt (docs/api/short.md): the query from the zod
 * schema that validates it, the bodies from CLOVA's wire contract. Documentation only
 * (api/docs/documentation-only.ts): short.ts checks every value itself, for CLOVA's error codes.
 */
import type { FastifySchema } from 'fastify';
import { SHORT_ERRORS } from '../../clova/short-errors.js';
import { shortOptionsSchema } from '../../clova/short-query.js';
import { CLOVA_KEY_ONLY, jsonResponse, ref, RETRY_AFTER, TAGS, type SharedSchema } from '../docs/common.js';
import { jsonSchemaOf, type JsonSchema } from '../docs/json-schema.js';

const errorCodes = [...new Set(Object.values(SHORT_ERRORS).map((e) => e.errorCode))];

export const shortErrorSchema: SharedSchema = {
  $id: 'ShortError',
  type: 'object',
  required: ['timestamp', 'error'],
  properties: {
    timestamp: { type: 'integer', description: 'Milliseconds since the epoch.' },
    error: {
      type: 'object',
      required: ['errorCode', 'message'],
      properties: { errorCode: { type: 'string', enum: errorCodes }, message: { type: 'string' } },
    },
  },
  examples: [{ timestamp: 1_796_588_500_000, error: { errorCode: 'STT005', message: 'Invalid Language' } }],
};

export const shortSuccessSchema: SharedSchema = {
  $id: 'ShortResult',
  type: 'object',
  required: ['text', 'quota'],
  properties: {
    text: { type: 'string', description: 'The transcript (Chn: Simplified Chinese).' },
    quota: { type: 'integer', minimum: 15, multipleOf: 15, description: 'The audio length rounded up to 15-second units.' },
    assessment_score: { type: 'integer', minimum: 0, maximum: 100, description: 'With `assessment=true`: the whole utterance.' },
    assessment_details: {
      type: 'string',
      description: 'With `assessment=true`: per word of the target `word|{chunk(phonemes):score, ...}` followed by one space.',
    },
    usr_graph: { type: 'array', items: { type: 'integer', minimum: 0 }, description: "With `graph=true`: the audio's amplitude envelope, 50 values per second." },
    ref_graph: {
      type: 'array',
      items: { type: 'integer', minimum: 0 },
      description: "With `assessment=true` and `graph=true`: a standard pronunciation's envelope on `usr_graph`'s time axis.",
    },
  },
  examples: [{ text: '평균적으로 1년 동안 ...', quota: 15 }],
};

/** The rows of the error table with this HTTP status, for a response's description. */
function errorsWithStatus(status: number): string {
  return Object.values(SHORT_ERRORS)
    .filter((e) => e.status === status)
    .map((e) => `\`${e.errorCode}\` ${e.message}`)
    .join('; ');
}

const error = (status: number, headers?: JsonSchema) => jsonResponse(errorsWithStatus(status), ref(shortErrorSchema), headers);

/** The schemas the short route refers to by name (short.ts adds them to its plugin). */
export const SHORT_SHARED_SCHEMAS: readonly SharedSchema[] = [shortSuccessSchema, shortErrorSchema];

export const shortRouteSchema: FastifySchema = {
  summary: 'Short recognition (up to 60 s)',
  description:
    'The audio is the body (any container ffmpeg reads: WAV, MP3, FLAC, OGG/Opus, AAC, M4A, MP4, ...), at most the ' +
    "domain's `limits.shortMaxSeconds` (60 s) and `limits.shortMaxBytes` (10 MB). Checks run cheapest first, the first " +
    'failure wins: client throttle (STT008), secret, request rate, `lang`, other query values, Content-Type, size, ' +
    'empty body, decoding, recognition.',
  operationId: 'recognizeShort',
  tags: [TAGS.short],
  security: CLOVA_KEY_ONLY,
  querystring: {
    ...jsonSchemaOf(shortOptionsSchema),
    properties: {
      lang: { type: 'string', enum: ['Kor', 'Eng', 'Jpn', 'Chn'], description: 'Language of the speech (any case). Missing: STT004; another value: STT005.' },
      ...(jsonSchemaOf(shortOptionsSchema).properties as JsonSchema),
    },
    required: ['lang'],
  },
  body: {
    content: {
      'application/octet-stream': {
        schema: { type: 'string', format: 'binary', contentMediaType: 'application/octet-stream', description: 'The audio file itself.' },
      },
    },
  },
  response: {
    200: jsonResponse('The transcript.', ref(shortSuccessSchema)),
    400: error(400),
    401: error(401),
    413: error(413),
    429: error(429, RETRY_AFTER),
    500: error(500),
    503: error(503, RETRY_AFTER),
  },
};
