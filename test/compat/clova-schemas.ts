/**
 * CLOVA Speech's response bodies as JSON Schemas, written from ../shared/spec/clova-speech-api.md
 * (not from Sori's code), so that every answer a real client gets in the compatibility suite is
 * checked against the contract and not against what Sori happens to send. Validated with ajv.
 */
import { Ajv, type ValidateFunction } from 'ajv';

const token = { type: 'string', pattern: '^[0-9a-f]{32}$' } as const;
const ms = { type: 'integer', minimum: 0 } as const;
const speaker = {
  type: 'object',
  required: ['label', 'name', 'edited'],
  properties: { label: { type: 'string', pattern: '^[1-9][0-9]*$' }, name: { type: 'string', pattern: '^[A-Z]+$' }, edited: { type: 'boolean' } },
} as const;

export const SCHEMAS = {
  shortSuccess: {
    type: 'object',
    required: ['text', 'quota'],
    properties: {
      text: { type: 'string' },
      quota: { type: 'integer', minimum: 15, multipleOf: 15 },
      assessment_score: { type: 'integer', minimum: 0, maximum: 100 },
      // Per word `word|{chunk(phonemes):score, ...} `, each entry followed by one space.
      assessment_details: { type: 'string', pattern: '^([^|{} ]+\\|\\{[^{}]*\\} )*$' },
      usr_graph: { type: 'array', items: { type: 'integer', minimum: 0 } },
      ref_graph: { type: 'array', items: { type: 'integer', minimum: 0 } },
    },
  },
  shortError: {
    type: 'object',
    required: ['timestamp', 'error'],
    properties: {
      timestamp: { type: 'integer' },
      error: {
        type: 'object',
        required: ['errorCode', 'message'],
        properties: { errorCode: { type: 'string', pattern: '^(400|401|STT\\d{3})$' }, message: { type: 'string' } },
      },
    },
  },
  longformAccepted: {
    type: 'object',
    required: ['result', 'message', 'token'],
    properties: { result: { const: 'SUCCEEDED' }, message: { type: 'string' }, token },
  },
  longformPending: {
    type: 'object',
    required: ['result', 'token', 'progress'],
    properties: {
      result: { enum: ['WAITING', 'PROCESSING'] },
      message: { type: 'string' },
      token,
      progress: { type: 'integer', minimum: 0, maximum: 100 },
    },
  },
  longformCompleted: {
    type: 'object',
    required: ['result', 'message', 'token', 'version', 'params', 'progress', 'keywords', 'segments', 'confidence', 'speakers', 'events', 'eventTypes'],
    properties: {
      result: { enum: ['COMPLETED', 'SUCCEEDED'] },
      message: { type: 'string' },
      token,
      version: { type: 'string' },
      params: {
        type: 'object',
        required: ['service', 'domain', 'lang', 'completion', 'diarization', 'sed', 'boostings', 'forbiddens', 'wordAlignment', 'fullText', 'noiseFiltering', 'resultToObs', 'priority', 'userdata'],
        properties: {
          lang: { enum: ['ko', 'en', 'enko', 'ja', 'zh-cn', 'zh-tw'] },
          completion: { enum: ['sync', 'async'] },
          diarization: {
            type: 'object',
            required: ['enable', 'speakerCountMin', 'speakerCountMax'],
            properties: { enable: { type: 'boolean' }, speakerCountMin: { type: 'integer' }, speakerCountMax: { type: 'integer' } },
          },
          sed: { type: 'object', required: ['enable'], properties: { enable: { type: 'boolean' } } },
          boostings: { type: 'array', items: { type: 'object', required: ['words'], properties: { words: { type: 'string' } } } },
          forbiddens: { type: 'string' },
          wordAlignment: { type: 'boolean' },
          fullText: { type: 'boolean' },
          noiseFiltering: { type: 'boolean' },
          resultToObs: { type: 'boolean' },
          priority: { type: 'integer' },
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
            words: { type: 'array', items: { type: 'array', prefixItems: [ms, ms, { type: 'string' }], minItems: 3, maxItems: 3 } },
            textEdited: { type: 'string' },
          },
        },
      },
      text: { type: 'string' },
      confidence: { type: 'number', minimum: 0, maximum: 1 },
      speakers: { type: 'array', items: speaker },
      events: {
        type: 'array',
        items: {
          type: 'object',
          required: ['type', 'label', 'labelIndex', 'confidence', 'startTimestamp', 'endTimestamp'],
          properties: { startTimestamp: ms, endTimestamp: ms, confidence: { type: 'number', minimum: 0, maximum: 1 } },
        },
      },
      eventTypes: { type: 'array', items: { type: 'string' } },
      subtitle: { type: 'string' },
    },
  },
  longformFailed: {
    type: 'object',
    required: ['result', 'message', 'token', 'errorCode', 'progress'],
    properties: {
      result: { enum: ['FAILED', 'TIMEOUT'] },
      message: { type: 'string' },
      token,
      errorCode: { type: 'string', pattern: '^ERROR_[A-Z_]+$' },
      progress: { type: 'integer', minimum: 0, maximum: 100 },
    },
  },
  longformError: {
    type: 'object',
    required: ['result', 'message', 'token'],
    properties: {
      result: { type: 'string', pattern: '^ERROR_[A-Z_]+$' },
      message: { type: 'string' },
      token: { type: 'string', pattern: '^([0-9a-f]{32})?$' },
    },
  },
} as const;

export type SchemaName = keyof typeof SCHEMAS;

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map<SchemaName, ValidateFunction>();

/** Throws with ajv's complaints when `body` is not a valid CLOVA body of that kind. */
export function assertClovaBody(name: SchemaName, body: unknown, what: string = name): void {
  let validate = validators.get(name);
  if (validate === undefined) {
    validate = ajv.compile(SCHEMAS[name]);
    validators.set(name, validate);
  }
  if (!validate(body)) {
    throw new Error(`${what}: not a CLOVA ${name} body: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`);
  }
}
