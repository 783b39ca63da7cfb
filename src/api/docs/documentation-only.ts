/**
 * Route schemas in Sori are documentation (the OpenAPI document), never enforcement: every
 * route validates its input with zod at the edge so that each failure gets its API's exact
 * error body (CLOVA's STT00x and ERROR_*, OpenAI's error shape), and answers are sent as built.
 * Fastify would otherwise validate requests against `schema` with ajv (its own 400s, coerced
 * query strings) and serialize answers with fast-json-stringify (dropping any field the schema
 * does not name): both are switched off here, for every route of the server.
 */
import type { FastifyInstance } from 'fastify';

/**
 * What fastify's answer would be without a response schema: `JSON.stringify` of the payload,
 * and for an Error (fastify's fallback path hands it to the route's serializer when the route
 * documents that status) the body fastify builds for errors itself, field for field.
 */
export function plainSerializer(data: unknown): string {
  if (data instanceof Error) {
    const e = data as Error & { statusCode?: number; code?: string; error?: string };
    return JSON.stringify({ statusCode: e.statusCode, code: e.code, error: e.error, message: e.message });
  }
  return JSON.stringify(data);
}

/** Must run before any route is registered: child contexts take their compilers from here. */
export function schemasAreDocumentationOnly(app: FastifyInstance): void {
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => plainSerializer);
}
