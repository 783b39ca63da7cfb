/**
 * The OpenAPI description of the long-form routes (docs/api/long-form.md): params from the zod
 * schema that validates them, the result bodies from CLOVA's wire contract (spec section 2).
 * Documentation only (api/docs/documentation-only.ts): longform.ts reads and checks every body
 * itself, for CLOVA's ERROR_* codes.
 */
import type { FastifySchema } from 'fastify';
import type { z } from 'zod';
import { LONGFORM_ERRORS } from '../../clova/longform-errors.js';
import { longformParamsSchema, RESULT_FORMATS } from '../../clova/longform-params.js';
import { SUBTITLE_CONTENT_TYPES, SUBTITLE_FORMATS } from '../../transcript/subtitles/index.js';
import { CLOVA_KEY_ONLY, jsonResponse, ref, RETRY_AFTER, TAGS, type SharedSchema } from '../docs/common.js';
import { jsonSchemaOf, type JsonSchema } from '../docs/json-schema.js';

const token = { type: 'string', pattern: '^[0-9a-f]{32}$', description: "The job's token." };
/** In a path any case is accepted; anything else is an unknown token (404). */
const tokenParam = { type: 'string', description: "The job's token, from the POST's answer." };
const ms = { type: 'integer', minimum: 0, description: 'Milliseconds from the start of the media.' };
const errorCodes = Object.keys(LONGFORM_ERRORS);

const paramsSchema: SharedSchema = { $id: 'LongformParams', ...jsonSchemaOf(longformParamsSchema) };

export const longformErrorSchema: SharedSchema = {
  $id: 'LongformError',
  type: 'object',
  required: ['result', 'message', 'token'],
  properties: {
    result: { type: 'string', enum: errorCodes },
    message: { type: 'string' },
    token: { type: 'string', description: "The job's token when there is a job (a sync job that failed or timed out), else empty." },
  },
  examples: [{ result: 'ERROR_INVALID_SECRET', message: 'Invalid secret', token: '' }],
};

const acceptedSchema: SharedSchema = {
  $id: 'LongformAccepted',
  type: 'object',
  required: ['result', 'message', 'token'],
  properties: { result: { const: 'SUCCEEDED' }, message: { type: 'string' }, token },
  description: 'An async job accepted: poll GET /recognizer/{token}, or wait for the callback.',
};

const speaker = {
  type: 'object',
  required: ['label', 'name', 'edited'],
  properties: { label: { type: 'string', examples: ['1'] }, name: { type: 'string', examples: ['A'] }, edited: { type: 'boolean' } },
};

export const completedSchema: SharedSchema = {
  $id: 'LongformResult',
  type: 'object',
  required: ['result', 'message', 'token', 'version', 'params', 'progress', 'keywords', 'segments', 'confidence', 'speakers', 'events', 'eventTypes'],
  description: 'A finished job: the result (also what the callback receives).',
  properties: {
    result: { const: 'COMPLETED' },
    message: { type: 'string' },
    token,
    version: { type: 'string' },
    params: {
      type: 'object',
      description: "The request's params with their defaults applied (`userdata` echoed as given).",
      required: ['service', 'domain', 'lang', 'completion', 'diarization', 'sed', 'boostings', 'forbiddens', 'wordAlignment', 'fullText', 'noiseFiltering', 'resultToObs', 'format', 'priority', 'userdata'],
      properties: {
        service: { type: 'string' },
        domain: { type: 'string' },
        lang: { type: 'string', enum: ['ko', 'en', 'enko', 'ja', 'zh-cn', 'zh-tw'] },
        completion: { type: 'string', enum: ['sync', 'async'] },
        callback: { type: 'string' },
        diarization: {
          type: 'object',
          required: ['enable', 'speakerCountMin', 'speakerCountMax'],
          properties: { enable: { type: 'boolean' }, speakerCountMin: { type: 'integer' }, speakerCountMax: { type: 'integer' } },
        },
        sed: { type: 'object', required: ['enable'], properties: { enable: { type: 'boolean' } } },
        boostings: { type: 'array', items: { type: 'object', required: ['words'], properties: { words: { type: 'string' } } } },
        useDomainBoostings: { type: 'boolean' },
        forbiddens: { type: 'string' },
        wordAlignment: { type: 'boolean' },
        fullText: { type: 'boolean' },
        noiseFiltering: { type: 'boolean' },
        noiseFilteringApplied: { type: 'boolean', description: "Sori's addition: whether a denoiser really ran." },
        resultToObs: { type: 'boolean' },
        format: { type: 'string', enum: [...RESULT_FORMATS] },
        priority: { type: 'integer' },
        userdata: {},
      },
    },
    progress: { const: 100 },
    keywords: { type: 'object' },
    segments: {
      type: 'array',
      items: {
        type: 'object',
        required: ['start', 'end', 'text', 'confidence', 'words', 'textEdited'],
        properties: {
          start: ms,
          end: ms,
          text: { type: 'string' },
          confidence: { type: 'number', minimum: 0, maximum: 1 },
          diarization: { type: 'object', required: ['label'], properties: { label: { type: 'string' } } },
          speaker,
          words: {
            type: 'array',
            description: '`[start, end, text]` per word; empty without `wordAlignment`.',
            items: { type: 'array', prefixItems: [ms, ms, { type: 'string' }], minItems: 3, maxItems: 3 },
          },
          textEdited: { type: 'string' },
        },
      },
    },
    text: { type: 'string', description: 'With `fullText`.' },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
    speakers: { type: 'array', items: speaker },
    events: {
      type: 'array',
      description: 'With `sed`: sound events.',
      items: {
        type: 'object',
        required: ['type', 'label', 'labelIndex', 'confidence', 'startTimestamp', 'endTimestamp'],
        properties: {
          type: { type: 'string' },
          label: { type: 'string' },
          labelIndex: { type: 'integer' },
          confidence: { type: 'number', minimum: 0, maximum: 1 },
          startTimestamp: ms,
          endTimestamp: ms,
        },
      },
    },
    eventTypes: { type: 'array', items: { type: 'string' } },
    subtitle: { type: 'string', description: 'With `format` SRT, SMI or VTT: the subtitle file.' },
  },
};

const pendingSchema: SharedSchema = {
  $id: 'LongformPending',
  type: 'object',
  required: ['result', 'message', 'token', 'progress'],
  description: 'A job not finished yet.',
  properties: {
    result: { type: 'string', enum: ['WAITING', 'PROCESSING'] },
    message: { type: 'string', enum: ['Waiting', 'Processing'] },
    token,
    progress: { type: 'integer', minimum: 0, maximum: 100 },
  },
};

const failedSchema: SharedSchema = {
  $id: 'LongformFailed',
  type: 'object',
  required: ['result', 'message', 'token', 'errorCode', 'progress'],
  description: 'A job that failed, or ran past `jobs.timeoutSeconds`.',
  properties: {
    result: { type: 'string', enum: ['FAILED', 'TIMEOUT'] },
    message: { type: 'string' },
    token,
    errorCode: { type: 'string', enum: errorCodes },
    progress: { type: 'integer', minimum: 0, maximum: 100 },
  },
};

const jobStatusSchema: JsonSchema = { oneOf: [ref(completedSchema), ref(pendingSchema), ref(failedSchema)] };

const deliveriesSchema: SharedSchema = {
  $id: 'LongformDeliveries',
  type: 'object',
  required: ['token', 'deliveries', 'attempts'],
  properties: {
    token,
    deliveries: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'token', 'kind', 'target', 'state', 'attempts', 'nextAt', 'createdAt', 'deliveredAt'],
        properties: {
          id: { type: 'integer' },
          token,
          kind: { type: 'string', description: 'callback, or object (resultToObs).' },
          target: { type: 'string', description: 'The callback URL or the object key.' },
          state: { type: 'string', enum: ['PENDING', 'DELIVERED', 'GAVE_UP'] },
          attempts: { type: 'integer', minimum: 0 },
          nextAt: { type: 'integer', description: 'Milliseconds since the epoch.' },
          createdAt: { type: 'integer' },
          deliveredAt: { type: ['integer', 'null'] },
        },
      },
    },
    attempts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['deliveryId', 'kind', 'at', 'status', 'error', 'ms'],
        properties: {
          deliveryId: { type: 'integer' },
          kind: { type: 'string' },
          at: { type: 'integer' },
          status: { type: ['integer', 'null'], description: 'HTTP status of the answer, if one came.' },
          error: { type: ['string', 'null'] },
          ms: { type: 'integer', minimum: 0 },
        },
      },
    },
  },
};

const jobListSchema: SharedSchema = {
  $id: 'LongformJobList',
  type: 'object',
  required: ['jobs', 'limit', 'offset', 'next'],
  properties: {
    jobs: {
      type: 'array',
      description: 'Newest first; no results (fetch a job with GET /recognizer/{token}).',
      items: {
        type: 'object',
        required: ['token', 'state', 'progress', 'createdAt', 'finishedAt', 'source', 'fileName'],
        properties: {
          token,
          state: { type: 'string', enum: ['WAITING', 'PROCESSING', 'COMPLETED', 'FAILED', 'TIMEOUT'] },
          progress: { type: 'integer', minimum: 0, maximum: 100 },
          createdAt: { type: 'string', format: 'date-time' },
          finishedAt: { type: ['string', 'null'], format: 'date-time' },
          source: { type: 'string', enum: ['upload', 'url', 'object-storage'] },
          fileName: { type: ['string', 'null'], description: "An upload's file name, if it had one." },
        },
      },
    },
    limit: { type: 'integer' },
    offset: { type: 'integer' },
    next: { type: ['integer', 'null'], description: 'The offset of the next page; null when this page was not full.' },
  },
};

/** The schemas the long-form routes share, by name (longform.ts adds them to its plugin). */
export const LONGFORM_SHARED_SCHEMAS: readonly SharedSchema[] = [
  paramsSchema, acceptedSchema, completedSchema, pendingSchema, failedSchema, deliveriesSchema, jobListSchema, longformErrorSchema,
];

/** The subtitle file itself, for a client whose Accept prefers text (docs/api/long-form.md, Subtitles). */
const SUBTITLE_TYPES = ['text/plain', 'text/vtt', 'application/x-subrip', 'application/smil'];

function errorResponses(statuses: readonly number[]): Record<number, JsonSchema> {
  const out: Record<number, JsonSchema> = {};
  for (const status of statuses) {
    const codes = Object.entries(LONGFORM_ERRORS).filter(([, s]) => s === status).map(([code]) => `\`${code}\``);
    // A too-large upload or JSON body is ERROR_REQUEST_PARAMETER with 413.
    if (status === 413) codes.push('`ERROR_REQUEST_PARAMETER` (over the size limit)');
    const headers = status === 429 || status === 503 ? RETRY_AFTER : undefined;
    out[status] = jsonResponse(codes.join(', '), ref(longformErrorSchema), headers);
  }
  return out;
}

const POST_ERRORS = [400, 401, 404, 409, 413, 429, 500, 502, 503, 504] as const;
const GET_ERRORS = [401, 404, 429, 500] as const;
const LIST_ERRORS = [400, 401, 429, 500] as const;
const SUBTITLE_ERRORS = [400, 401, 404, 429, 500] as const;

/** What a POST answers: the token (async), or the job's end (sync). */
const postAnswers = {
  200: {
    description: 'async: the token. sync: the result, or with `format` SRT/SMI/VTT and an Accept preferring text, the subtitle file.',
    content: {
      'application/json': { schema: { oneOf: [ref(acceptedSchema), ref(completedSchema)] } },
      ...Object.fromEntries(SUBTITLE_TYPES.map((type) => [type, { schema: { type: 'string' } }])),
    },
  },
  ...errorResponses(POST_ERRORS),
};

const INVOKE_PREFIX_PARAMS = {
  domainId: { type: 'string', description: "The InvokeURL's domain id: accepted and ignored (the secret names the domain)." },
  invokeKey: { type: 'string', description: "The InvokeURL's key: accepted and ignored." },
};

function pathParams(prefixed: boolean, more: Record<string, JsonSchema> = {}): JsonSchema | undefined {
  const properties = { ...(prefixed ? INVOKE_PREFIX_PARAMS : {}), ...more };
  const required = Object.keys(properties);
  return required.length === 0 ? undefined : { type: 'object', properties, required };
}

const jsonBody = (properties: Record<string, JsonSchema>, required: string[]): FastifySchema['body'] => ({
  content: { 'application/json': { schema: { allOf: [ref(paramsSchema), { type: 'object', properties, required }] } } },
});

const COMMON = 'Also under the InvokeURL prefix `/external/v1/{domainId}/{invokeKey}`.';

/** The zod schemas longform.ts validates its own query strings with (Sori's additions). */
export interface LongformQuerySchemas {
  list: z.ZodType;
  subtitle: z.ZodType;
}

type LongformRoute = 'upload' | 'url' | 'objectStorage' | 'status' | 'deliveries' | 'list' | 'subtitle';

/** The schemas of the seven routes, without (`prefixed` false) or with the InvokeURL prefix. */
export function longformRouteSchemas(prefixed: boolean, queries: LongformQuerySchemas): Record<LongformRoute, FastifySchema> {
  const id = (name: string) => (prefixed ? `${name}ViaInvokeUrl` : name);
  const base = { tags: [TAGS.longform], security: CLOVA_KEY_ONLY };
  const params = pathParams(prefixed);
  return {
    upload: {
      ...base,
      summary: 'Long-form recognition of an uploaded file',
      description:
        'multipart/form-data: `media` (the file) and `params` (JSON text, in a text field or a file part, any order). ' +
        `At most \`longform.maxBytes\` (2 GB). ${COMMON}`,
      operationId: id('recognizeUpload'),
      ...(params === undefined ? {} : { params }),
      body: {
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              required: ['media'],
              properties: {
                media: { type: 'string', format: 'binary', contentMediaType: 'application/octet-stream', description: 'The media, any container ffmpeg reads.' },
                params: { type: 'string', contentMediaType: 'application/json', contentSchema: ref(paramsSchema), description: 'The params as JSON text; absent: all defaults.' },
              },
            },
          },
        },
      },
      response: postAnswers,
    },
    url: {
      ...base,
      summary: 'Long-form recognition of the media at a URL',
      description: `The JSON body: \`url\` (http or https; private addresses refused unless allowed) and the params. ${COMMON}`,
      operationId: id('recognizeUrl'),
      ...(params === undefined ? {} : { params }),
      body: jsonBody({ url: { type: 'string', format: 'uri', description: 'The media, fetched by the server.' } }, ['url']),
      response: postAnswers,
    },
    objectStorage: {
      ...base,
      summary: 'Long-form recognition of an object in the configured bucket',
      description: `The JSON body: \`dataKey\` (or \`datakey\`) and the params. ${COMMON}`,
      operationId: id('recognizeObjectStorage'),
      ...(params === undefined ? {} : { params }),
      body: jsonBody(
        { dataKey: { type: 'string', description: 'The object key in `objectStorage.bucket`.' }, datakey: { type: 'string', description: 'Same as `dataKey`.' } },
        ['dataKey'],
      ),
      response: postAnswers,
    },
    status: {
      ...base,
      summary: "A job's state, then its result",
      description: `Another domain's job answers as an unknown token (ERROR_TOKEN_INVALID). ${COMMON}`,
      operationId: id('getJob'),
      params: pathParams(prefixed, { token: tokenParam }),
      response: {
        200: {
          description: 'The job: waiting, processing, failed, or its result (a subtitle file for an Accept preferring text).',
          content: {
            'application/json': { schema: jobStatusSchema },
            ...Object.fromEntries(SUBTITLE_TYPES.map((type) => [type, { schema: { type: 'string' } }])),
          },
        },
        ...errorResponses(GET_ERRORS),
      },
    },
    deliveries: {
      ...base,
      summary: "Every delivery of a job's result and each attempt (Sori's addition)",
      description: `Callbacks and resultToObs writes, with every attempt's status. ${COMMON}`,
      operationId: id('getJobDeliveries'),
      params: pathParams(prefixed, { token: tokenParam }),
      response: { 200: jsonResponse("The job's deliveries.", ref(deliveriesSchema)), ...errorResponses(GET_ERRORS) },
    },
    list: {
      ...base,
      summary: "The domain's jobs, newest first (Sori's addition)",
      description: `A page at a time: \`limit\` 1-100 (default 20), \`offset\` (default 0). Another domain's jobs never appear. ${COMMON}`,
      operationId: id('listJobs'),
      ...(params === undefined ? {} : { params }),
      querystring: jsonSchemaOf(queries.list),
      response: { 200: jsonResponse('A page of jobs.', ref(jobListSchema)), ...errorResponses(LIST_ERRORS) },
    },
    subtitle: {
      ...base,
      summary: "A completed job's subtitles in any format (Sori's addition)",
      description: `Written from the stored segments (with speaker names) whatever \`format\` the job ran with; before the job completes, its status JSON. ${COMMON}`,
      operationId: id('getJobSubtitle'),
      params: pathParams(prefixed, { token: tokenParam }),
      querystring: jsonSchemaOf(queries.subtitle),
      response: {
        200: {
          description: 'The subtitle file, or the status of a job not completed.',
          content: {
            ...Object.fromEntries(SUBTITLE_FORMATS.map((f) => [SUBTITLE_CONTENT_TYPES[f].split(';')[0], { schema: { type: 'string' } }])),
            'application/json': { schema: jobStatusSchema },
          },
        },
        ...errorResponses(SUBTITLE_ERRORS),
      },
    },
  };
}
