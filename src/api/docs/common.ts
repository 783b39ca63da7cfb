/**
 * What every route's documentation shares: the tags that group the routes, the two ways a
 * secret is presented, and the Retry-After header of refusals that say when to come back.
 */
import type { JsonSchema } from './json-schema.js';

export const TAGS = {
  short: 'CLOVA short recognition',
  longform: 'CLOVA long-form recognition',
  streaming: 'CLOVA streaming',
  openai: 'OpenAI-compatible',
  admin: 'Admin',
  operations: 'Operations',
} as const;

export const TAG_DESCRIPTIONS: ReadonlyArray<{ name: string; description: string }> = [
  { name: TAGS.short, description: 'CLOVA Speech short recognition: up to 60 s of audio as the body (docs/api/short.md).' },
  { name: TAGS.longform, description: 'CLOVA Speech long-form recognition: durable jobs, sync or async, also under the InvokeURL prefix (docs/api/long-form.md).' },
  { name: TAGS.streaming, description: 'Real-time streaming over a WebSocket (docs/api/streaming.md); the gRPC NestService is on its own port and not described here.' },
  { name: TAGS.openai, description: "OpenAI's speech-to-text API (docs/api/openai.md)." },
  { name: TAGS.admin, description: "A domain's registered boosting keywords (docs/api/boostings.md)." },
  { name: TAGS.operations, description: 'Health, metrics and this document; no secret needed.' },
];

/** Names of the security schemes in `components.securitySchemes` (stream/websocket.ts spells them too). */
export const CLOVA_KEY = 'clovaApiKey';
export const BEARER = 'bearerAuth';
export const QUERY_KEY = 'queryKey';

export const SECURITY_SCHEMES = {
  [CLOVA_KEY]: {
    type: 'apiKey',
    in: 'header',
    name: 'X-CLOVASPEECH-API-KEY',
    description: "A domain's secret (or one of its previous secrets during a rotation), as CLOVA Speech takes it.",
  },
  [BEARER]: {
    type: 'http',
    scheme: 'bearer',
    description: "`Authorization: Bearer <secret>`: a domain's secret, as OpenAI's SDKs send their API key.",
  },
  [QUERY_KEY]: {
    type: 'apiKey',
    in: 'query',
    name: 'key',
    description: "The WebSocket route only (browsers cannot set a WebSocket's headers): a domain's secret, redacted from logs.",
  },
} as const;

/** OpenAPI's security requirement: any one of the listed objects satisfies it. */
export type SecurityRequirement = Array<Record<string, string[]>>;

export const CLOVA_KEY_ONLY: SecurityRequirement = [{ [CLOVA_KEY]: [] }];
export const BEARER_ONLY: SecurityRequirement = [{ [BEARER]: [] }];
export const CLOVA_KEY_OR_BEARER: SecurityRequirement = [{ [CLOVA_KEY]: [] }, { [BEARER]: [] }];
/** Routes anyone may call. */
export const NO_SECRET: SecurityRequirement = [];

/** On a refusal that says when to come back (throttled client, busy server). */
export const RETRY_AFTER: JsonSchema = {
  'Retry-After': { type: 'integer', minimum: 0, description: 'Seconds to wait before retrying.' },
};

/**
 * A schema named by its `$id`, added to a route plugin with `addSharedSchemas`: written once in
 * the document's components.schemas, referenced where a route uses it.
 */
export interface SharedSchema extends JsonSchema {
  $id: string;
}

export function ref(schema: SharedSchema): JsonSchema {
  return { $ref: `${schema.$id}#` };
}

/** Every plugin that refers to a shared schema adds it (fastify resolves `$ref`s per plugin). */
export function addSharedSchemas(app: { addSchema(schema: unknown): unknown }, schemas: readonly SharedSchema[]): void {
  for (const schema of schemas) app.addSchema(schema);
}

/** A response with a JSON body (its description stays on the response, not copied into the schema). */
export function jsonResponse(description: string, schema: JsonSchema, headers?: JsonSchema): JsonSchema {
  return { description, ...(headers === undefined ? {} : { headers }), content: { 'application/json': { schema } } };
}

/** One text body (or several media types with the same schema). */
export function textResponse(description: string, mediaTypes: readonly string[], headers?: JsonSchema): JsonSchema {
  const content = Object.fromEntries(mediaTypes.map((type) => [type, { schema: { type: 'string' } }]));
  return { description, ...(headers === undefined ? {} : { headers }), content };
}
