/**
 * Route schemas are documentation only: the same routes with and without a schema answer the
 * same bytes, whatever the request (nothing validated, nothing coerced) and whatever the answer
 * (no field dropped, an Error's body unchanged even at a documented status).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify, { type FastifyInstance, type FastifySchema } from 'fastify';
import { schemasAreDocumentationOnly } from '../../../src/api/docs/documentation-only.js';

const SCHEMA: FastifySchema = {
  querystring: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false },
  body: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
  response: {
    200: { type: 'object', properties: { kept: { type: 'string' } } },
    400: { type: 'object', properties: { only: { type: 'string' } } },
    500: { type: 'object', properties: { only: { type: 'string' } } },
  },
};

function build(documented: boolean): FastifyInstance {
  const app = Fastify();
  if (documented) schemasAreDocumentationOnly(app);
  const opts = documented ? { schema: SCHEMA } : {};
  app.post('/echo', opts, async (request) => ({ kept: 'yes', extra: { query: request.query, body: request.body }, n: 1 }));
  app.post('/fail', opts, async (request) => {
    const status = Number((request.query as { status?: string }).status ?? 500);
    throw Object.assign(new Error('boom'), { statusCode: status, code: 'E_TEST' });
  });
  app.post('/bad', opts, async (_request, reply) => reply.code(400).send({ only: 'x', also: 'y' }));
  return app;
}

const CASES = [
  { method: 'POST', url: '/echo?n=12', payload: { a: 'x', b: 2 } },
  { method: 'POST', url: '/echo?n=notanumber&extra=1', payload: { b: 2 } },
  { method: 'POST', url: '/echo', payload: [1, 2] },
  { method: 'POST', url: '/fail?status=500', payload: {} },
  { method: 'POST', url: '/fail?status=400', payload: {} },
  { method: 'POST', url: '/fail?status=503', payload: {} },
  { method: 'POST', url: '/bad', payload: {} },
] as const;

describe('schemasAreDocumentationOnly', () => {
  it('answers byte for byte what the routes answer without schemas', async () => {
    const plain = build(false);
    const documented = build(true);
    try {
      for (const c of CASES) {
        const a = await plain.inject({ ...c });
        const b = await documented.inject({ ...c });
        assert.equal(b.statusCode, a.statusCode, c.url);
        assert.equal(b.headers['content-type'], a.headers['content-type'], c.url);
        assert.equal(b.body, a.body, c.url);
      }
      // The cases do reach what a validating, serializing fastify would change.
      const echoed = JSON.parse((await documented.inject({ ...CASES[1] })).body) as { extra: { query: { n: unknown } } };
      assert.equal(echoed.extra.query.n, 'notanumber');
      assert.match((await documented.inject({ ...CASES[3] })).body, /"code":"E_TEST"/);
    } finally {
      await plain.close();
      await documented.close();
    }
  });
});
