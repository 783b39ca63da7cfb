/**
 * The OpenAPI 3.1 document at GET /openapi.json and Swagger UI at /docs, both generated from the
 * routes' `schema`s by @fastify/swagger (which collects every route as it is added, so this must
 * be registered before them). Swagger UI's files are served from its npm package, under a strict
 * Content-Security-Policy: nothing is loaded from anywhere but this server. Neither needs a
 * secret: they describe the API, they accept nothing.
 */
import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NO_SECRET, SECURITY_SCHEMES, TAG_DESCRIPTIONS, TAGS } from './common.js';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PREFIX = '/docs';

/**
 * Swagger UI needs nothing inline and nothing from elsewhere: its scripts and styles are files
 * under /docs/static, its logo a data: image, "Try it out" calls this origin.
 */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

function packageVersion(): string {
  // src/api/docs/ and dist/api/docs/ are both three levels below the package root.
  const raw: unknown = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  return z.object({ version: z.string() }).parse(raw).version;
}

export async function registerApiDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Sori',
        version: packageVersion(),
        description:
          "A self-hosted speech recognition server, wire-compatible with NAVER CLOVA Speech, with OpenAI's speech-to-text API " +
          'beside it. Every route validates its own input and answers its API\'s own error bodies (documented per route); ' +
          'this document is generated from the route schemas and checked against real answers in the tests.',
      },
      tags: [...TAG_DESCRIPTIONS],
      components: { securitySchemes: SECURITY_SCHEMES },
    },
    // A shared schema (common.ts: LongformResult, ShortError, ...) is written once, under its
    // `$id` in components.schemas, and referenced wherever a route uses it.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    staticCSP: DOCS_CSP,
    // No call to swagger.io's online validator (nothing leaves the page).
    validatorUrl: false,
    theme: { title: 'Sori API' },
    uiConfig: { deepLinking: true, docExpansion: 'list' },
  });
  app.get(
    OPENAPI_PATH,
    {
      schema: {
        summary: 'This OpenAPI 3.1 document',
        description: 'Generated from the route schemas; Swagger UI at /docs shows it. Turned off with `server.docs: false`.',
        operationId: 'getOpenApiDocument',
        tags: [TAGS.operations],
        security: NO_SECRET,
        response: { 200: { description: 'The OpenAPI document.', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
    async () => app.swagger(),
  );
}
