/**
 * The OpenAPI description of the OpenAI-compatible routes (docs/api/openai.md), in OpenAI's
 * own terms (its SDKs' Transcription, TranscriptionVerbose, Model, error object). Documentation
 * only (api/docs/documentation-only.ts): params.ts checks every field, for OpenAI's error body.
 */
import type { FastifySchema } from 'fastify';
import { BEARER_ONLY, jsonResponse, ref, RETRY_AFTER, TAGS, type SharedSchema } from '../docs/common.js';
import type { JsonSchema } from '../docs/json-schema.js';
import { RESPONSE_FORMATS, WHISPER_1 } from './params.js';

export const openaiErrorSchema: SharedSchema = {
  $id: 'OpenAIError',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type', 'param', 'code'],
      properties: {
        message: { type: 'string' },
        type: { type: 'string', examples: ['invalid_request_error', 'server_error', 'requests'] },
        param: { type: ['string', 'null'], description: 'The form field at fault, if one is.' },
        code: { type: ['string', 'null'], examples: ['invalid_value', 'missing_required_parameter', 'invalid_api_key', 'model_not_found'] },
      },
    },
  },
};

const usage = {
  type: 'object',
  required: ['type', 'seconds'],
  properties: { type: { const: 'duration' }, seconds: { type: 'integer', minimum: 0, description: 'Audio seconds, rounded up.' } },
};

export const transcriptionSchema: SharedSchema = {
  $id: 'Transcription',
  type: 'object',
  required: ['text'],
  description: '`json` (the default): the text, with `usage` for transcriptions.',
  properties: { text: { type: 'string' }, usage },
};

const segment = {
  type: 'object',
  required: ['id', 'seek', 'start', 'end', 'text', 'tokens', 'temperature', 'avg_logprob', 'compression_ratio', 'no_speech_prob'],
  properties: {
    id: { type: 'integer', minimum: 0 },
    seek: { type: 'integer', minimum: 0, description: "Where the segment's 30 s window starts, in mel frames (100 per second)." },
    start: { type: 'number', minimum: 0, description: 'Seconds.' },
    end: { type: 'number', minimum: 0 },
    text: { type: 'string' },
    tokens: { type: 'array', items: { type: 'integer' } },
    temperature: { type: 'number' },
    avg_logprob: { type: 'number' },
    compression_ratio: { type: 'number' },
    no_speech_prob: { type: 'number' },
  },
};

export const verboseTranscriptionSchema: SharedSchema = {
  $id: 'TranscriptionVerbose',
  type: 'object',
  required: ['task', 'language', 'duration', 'text'],
  description: '`verbose_json`: segments (unless only words were asked for), words with `timestamp_granularities[]=word`.',
  properties: {
    task: { type: 'string', enum: ['transcribe', 'translate'] },
    language: { type: 'string', description: "The text's language, by its English name." },
    duration: { type: 'number', minimum: 0, description: 'Seconds.' },
    text: { type: 'string' },
    segments: { type: 'array', items: segment },
    words: {
      type: 'array',
      items: { type: 'object', required: ['word', 'start', 'end'], properties: { word: { type: 'string' }, start: { type: 'number' }, end: { type: 'number' } } },
    },
    usage,
  },
};

const modelSchema: SharedSchema = {
  $id: 'Model',
  type: 'object',
  required: ['id', 'object', 'created', 'owned_by'],
  properties: {
    id: { type: 'string', examples: [WHISPER_1, 'whisper-base'] },
    object: { const: 'model' },
    created: { type: 'integer', description: "Seconds since the epoch (the model folder's time)." },
    owned_by: { type: 'string' },
  },
};

const modelListSchema: SharedSchema = {
  $id: 'ModelList',
  type: 'object',
  required: ['object', 'data'],
  properties: { object: { const: 'list' }, data: { type: 'array', items: ref(modelSchema) } },
};

const formFields = (task: 'transcribe' | 'translate'): JsonSchema => ({
  file: { type: 'string', format: 'binary', contentMediaType: 'application/octet-stream', description: 'The audio, any container ffmpeg reads; at most `openai.maxBytes` (25 MiB).' },
  model: { type: 'string', description: `\`${WHISPER_1}\` (the server's model) or an installed Whisper model (GET /v1/models).`, examples: [WHISPER_1] },
  language: { type: 'string', description: 'ISO 639-1 code of the speech; absent: identified from the audio.', examples: ['en', 'ko'] },
  prompt: { type: 'string', description: 'Text the decoder is conditioned on (spellings, style).' },
  temperature: { type: 'number', minimum: 0, maximum: 1, default: 0 },
  response_format: { type: 'string', enum: [...RESPONSE_FORMATS], default: 'json' },
  ...(task === 'transcribe'
    ? {
        'timestamp_granularities[]': {
          type: 'array',
          items: { type: 'string', enum: ['word', 'segment'] },
          description: 'With `verbose_json` only; default `segment`.',
        },
        stream: { type: 'boolean', default: false, description: 'Server-sent events (with `json` or `text`).' },
      }
    : {}),
});

function errorResponse(description: string, headers?: JsonSchema): JsonSchema {
  return jsonResponse(description, ref(openaiErrorSchema), headers);
}

const AUTH_ERRORS = {
  401: errorResponse('`invalid_api_key`: no `Authorization: Bearer`, or a secret no domain has.'),
  429: errorResponse('`rate_limit_exceeded`: this client address presented too many wrong secrets lately.', RETRY_AFTER),
};

function audioRoute(task: 'transcribe' | 'translate'): FastifySchema {
  const transcribe = task === 'transcribe';
  return {
    summary: transcribe ? 'Transcribe audio (OpenAI)' : 'Translate audio into English (OpenAI)',
    description:
      (transcribe
        ? "OpenAI's `POST /v1/audio/transcriptions`, for its SDKs. "
        : "OpenAI's `POST /v1/audio/translations`: the same form, the text in English (Whisper's translate task). ") +
      'Audio of up to 30 s is one engine request; longer audio runs window by window in the request.',
    operationId: transcribe ? 'createTranscription' : 'createTranslation',
    tags: [TAGS.openai],
    security: BEARER_ONLY,
    body: {
      content: {
        'multipart/form-data': { schema: { type: 'object', required: ['file', 'model'], properties: formFields(task) } },
      },
    },
    response: {
      200: {
        description:
          'In the `response_format` asked for: `json`, `verbose_json` (JSON); `text`, `srt` (text/plain); `vtt` (text/vtt)' +
          (transcribe ? '; with `stream=true`, server-sent events `transcript.text.delta` ... `transcript.text.done`.' : '.'),
        content: {
          'application/json': { schema: { anyOf: [ref(transcriptionSchema), ref(verboseTranscriptionSchema)] } },
          'text/plain': { schema: { type: 'string' } },
          'text/vtt': { schema: { type: 'string' } },
          ...(transcribe ? { 'text/event-stream': { schema: { type: 'string', description: '`data: {"type":"transcript.text.delta","delta":"..."}` lines, then `transcript.text.done`.' } } } : {}),
        },
      },
      400: errorResponse('`invalid_content_type`, `missing_required_parameter`, `invalid_value`, `invalid_file_format`, `audio_too_long` (`param` names the field).'),
      ...AUTH_ERRORS,
      404: errorResponse('`model_not_found`: the model is not installed.'),
      413: errorResponse('`file_too_large`: over `openai.maxBytes`.'),
      500: errorResponse("Sori's own failure (`server_error`)."),
      503: errorResponse('`server_busy`: the engine\'s queue is full, or every other model that may be loaded is in use.', RETRY_AFTER),
    },
  };
}

export const transcriptionsSchema = audioRoute('transcribe');

/** The schemas the OpenAI routes refer to by name (routes.ts adds them to its plugin). */
export const OPENAI_SHARED_SCHEMAS: readonly SharedSchema[] = [
  transcriptionSchema, verboseTranscriptionSchema, modelSchema, modelListSchema, openaiErrorSchema,
];
export const translationsSchema = audioRoute('translate');

export const modelsSchema: FastifySchema = {
  summary: 'The models (OpenAI)',
  description: `\`${WHISPER_1}\` (the server's model), then every installed Whisper model.`,
  operationId: 'listModels',
  tags: [TAGS.openai],
  security: BEARER_ONLY,
  response: { 200: jsonResponse('The models.', ref(modelListSchema)), ...AUTH_ERRORS },
};

export const modelRouteSchema: FastifySchema = {
  summary: 'One model (OpenAI)',
  description: 'As listed by GET /v1/models; an id not listed is 404 `model_not_found`.',
  operationId: 'retrieveModel',
  tags: [TAGS.openai],
  security: BEARER_ONLY,
  params: { type: 'object', properties: { id: { type: 'string', description: 'A model id from GET /v1/models.' } }, required: ['id'] },
  response: {
    200: jsonResponse('The model.', ref(modelSchema)),
    ...AUTH_ERRORS,
    404: errorResponse('`model_not_found`.'),
  },
};
