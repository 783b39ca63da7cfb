/**
 * Managing a domain's registered boosting keywords at runtime (what `useDomainBoostings` and a
 * stream's `boostingIDs` use):
 *
 *   GET    /admin/domains/{domain}/boostings   the current set and where it comes from
 *   PUT    /admin/domains/{domain}/boostings   replace it: {"keywords": [...]} or CLOVA's
 *                                              {"boostings": [{"words": "a,b"}]}
 *   DELETE /admin/domains/{domain}/boostings   drop the runtime set: back to the config file's
 *
 * Authenticated like the CLOVA routes: `X-CLOVASPEECH-API-KEY` (or `Authorization: Bearer`)
 * with the secret of that same domain (a previous secret too, during a rotation). A secret
 * manages its own domain only. Wrong secrets count against the client like on every surface:
 * past the limit, 429 TOO_MANY_AUTH_FAILURES with Retry-After. In cluster mode the sets live in
 * PostgreSQL; while it cannot be reached a PUT or DELETE answers 503 STORE_UNAVAILABLE.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { z } from 'zod';
import { MAX_DOMAIN_BOOSTINGS } from '../../config.js';
import { API_KEY_HEADER, bearerToken, httpOrigin, throttledMessage, type AuthGate } from '../../domains/auth.js';
import { normaliseKeywords, type DomainBoostings } from '../../domains/boostings.js';
import { JobStoreUnavailableError } from '../../jobs/store.js';
import { CLOVA_KEY_OR_BEARER, jsonResponse, RETRY_AFTER, TAGS } from '../docs/common.js';
import { jsonSchemaOf, type JsonSchema } from '../docs/json-schema.js';
import { schemasAreDocumentationOnly } from '../docs/documentation-only.js';

export const ADMIN_BOOSTINGS_PATH = '/admin/domains/:domain/boostings';
const STORE_RETRY_AFTER_SECONDS = 5;
/** A keyword is a word or a short phrase; longer text is a mistake (or an abuse of the store). */
const MAX_KEYWORD_CHARS = 100;

export interface AdminBoostingsOptions {
  /** The process's one gate: the domains' secrets plus the per-client throttle. */
  auth: AuthGate;
  boostings: DomainBoostings;
}

const keyword = z.string().max(MAX_KEYWORD_CHARS, `a keyword has at most ${MAX_KEYWORD_CHARS} characters`);
const bodySchema = z.union([
  z.strictObject({ keywords: z.array(keyword) }),
  z.strictObject({ boostings: z.array(z.object({ words: z.string() })) }),
]);

// The routes' OpenAPI description (documentation only: the handlers check everything themselves).
const adminErrorSchema: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
};
const viewSchema: JsonSchema = {
  type: 'object',
  required: ['domain', 'source', 'count', 'keywords'],
  properties: {
    domain: { type: 'string' },
    source: { type: 'string', enum: ['config', 'admin'], description: 'config: the config file\'s set; admin: one set here at runtime.' },
    count: { type: 'integer', minimum: 0 },
    keywords: { type: 'array', items: { type: 'string' } },
  },
};
const adminError = (description: string, headers?: JsonSchema) => jsonResponse(description, adminErrorSchema, headers);
const adminResponses = {
  200: jsonResponse("The domain's registered keywords now.", viewSchema),
  401: adminError('`INVALID_SECRET`.'),
  403: adminError('`FORBIDDEN`: the secret is not this domain\'s.'),
  429: adminError('`TOO_MANY_AUTH_FAILURES`: this client address presented too many wrong secrets lately.', RETRY_AFTER),
  500: adminError('`INTERNAL_ERROR`.'),
};
function adminSchema(method: 'get' | 'put' | 'delete'): FastifySchema {
  const summaries = { get: "A domain's registered boosting keywords", put: "Replace a domain's registered boosting keywords", delete: "Drop the runtime set: back to the config file's" };
  return {
    summary: summaries[method],
    description: 'With the secret of that same domain (`X-CLOVASPEECH-API-KEY` or `Authorization: Bearer`); changes are kept in the data directory.',
    operationId: { get: 'getDomainBoostings', put: 'putDomainBoostings', delete: 'deleteDomainBoostings' }[method],
    tags: [TAGS.admin],
    security: CLOVA_KEY_OR_BEARER,
    params: { type: 'object', properties: { domain: { type: 'string', description: "The domain's name." } }, required: ['domain'] },
    ...(method === 'put' ? { body: { content: { 'application/json': { schema: jsonSchemaOf(bodySchema) } } } } : {}),
    response:
      method === 'put'
        ? { ...adminResponses, 400: adminError(`\`INVALID_BODY\`, \`TOO_MANY_KEYWORDS\` (at most ${MAX_DOMAIN_BOOSTINGS}), \`INVALID_REQUEST\`.`) }
        : adminResponses,
  };
}

class AdminError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly retryAfterSeconds?: number) {
    super(message);
  }
}

function keywordsOf(body: unknown): string[] {
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) {
    throw new AdminError(400, 'INVALID_BODY', 'expected {"keywords": ["..."]} or {"boostings": [{"words": "a,b"}]}');
  }
  const raw = 'keywords' in parsed.data ? parsed.data.keywords : parsed.data.boostings.flatMap((b) => b.words.split(','));
  const keywords = normaliseKeywords(raw);
  if (keywords.length > MAX_DOMAIN_BOOSTINGS) {
    throw new AdminError(400, 'TOO_MANY_KEYWORDS', `at most ${MAX_DOMAIN_BOOSTINGS} keywords, got ${keywords.length}`);
  }
  const long = keywords.find((k) => k.length > MAX_KEYWORD_CHARS);
  if (long !== undefined) throw new AdminError(400, 'INVALID_BODY', `a keyword has at most ${MAX_KEYWORD_CHARS} characters`);
  return keywords;
}

export async function adminBoostingsRoutes(app: FastifyInstance, opts: AdminBoostingsOptions): Promise<void> {
  // This plugin's schemas describe its routes (OpenAPI); it checks its input itself, wherever it is mounted.
  schemasAreDocumentationOnly(app);
  const { auth } = opts;
  const store = opts.boostings;

  const authorise = (request: FastifyRequest<{ Params: { domain: string } }>): string => {
    const header = request.headers[API_KEY_HEADER];
    const key = typeof header === 'string' && header !== '' ? header : bearerToken(request.headers.authorization);
    const outcome = auth.authenticate(httpOrigin(request), key);
    if (!outcome.ok && outcome.reason === 'throttled') {
      throw new AdminError(429, 'TOO_MANY_AUTH_FAILURES', throttledMessage(outcome.retryAfterSeconds), outcome.retryAfterSeconds);
    }
    if (!outcome.ok) throw new AdminError(401, 'INVALID_SECRET', 'Invalid secret');
    const { domain } = outcome;
    // Same answer for "another domain" and "no such domain": a secret learns nothing about others.
    if (domain.name !== request.params.domain) throw new AdminError(403, 'FORBIDDEN', 'this secret does not manage that domain');
    return domain.name;
  };

  const view = (domain: string): Record<string, unknown> => {
    const keywords = store.keywords(domain);
    return { domain, source: store.source(domain), count: keywords.length, keywords };
  };

  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof AdminError) {
      request.log.info({ reason: err.message }, 'boostings admin request refused');
      if (err.retryAfterSeconds !== undefined) void reply.header('retry-after', String(err.retryAfterSeconds));
      return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
    }
    if (err instanceof JobStoreUnavailableError) {
      // Cluster mode with PostgreSQL away: nothing was changed, and the same request works later.
      request.log.warn({ err }, 'boostings admin request refused: the shared store is unavailable');
      void reply.header('retry-after', String(STORE_RETRY_AFTER_SECONDS));
      return reply.code(503).send({ error: { code: 'STORE_UNAVAILABLE', message: 'the shared store is unavailable; try again later' } });
    }
    const status = (err as { statusCode?: number } | null)?.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send({ error: { code: 'INVALID_REQUEST', message: (err as Error).message } });
    }
    request.log.error({ err }, 'boostings admin request failed');
    return reply.code(500).send({ error: { code: 'INTERNAL_ERROR', message: 'internal error' } });
  });

  app.get<{ Params: { domain: string } }>(ADMIN_BOOSTINGS_PATH, { schema: adminSchema('get') }, async (request) => view(authorise(request)));

  app.put<{ Params: { domain: string } }>(ADMIN_BOOSTINGS_PATH, { schema: adminSchema('put') }, async (request) => {
    const domain = authorise(request);
    const keywords = keywordsOf(request.body);
    await store.set(domain, keywords);
    request.log.info({ domain, keywords: keywords.length }, 'domain boostings replaced');
    return view(domain);
  });

  app.delete<{ Params: { domain: string } }>(ADMIN_BOOSTINGS_PATH, { schema: adminSchema('delete') }, async (request) => {
    const domain = authorise(request);
    await store.reset(domain);
    request.log.info({ domain }, 'domain boostings reset to the config file');
    return view(domain);
  });
}
