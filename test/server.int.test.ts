/** The assembled HTTP server's own behaviour, below every route: what a path no route serves gets. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startServer, testDomain, testEngine } from './helpers/server.js';

const engine = testEngine();
const server = await startServer(engine, [testDomain('general', 'server-test-secret')]);
after(async () => {
  await server.close();
  await engine.close();
});

describe('paths no route serves', () => {
  it('answer 404 whatever the body, even JSON that does not parse (found by the fuzzer: it was 400 FST_ERR_CTP_INVALID_JSON_BODY)', async () => {
    for (const [method, path] of [['POST', '/nothing'], ['PATCH', '/admin/domains/general/boostings'], ['POST', '/admin/domains/general/boostings']]) {
      const res = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: '{"broken' });
      assert.equal(res.status, 404, `${method} ${path}`);
      const body = (await res.json()) as { statusCode: number; error: string };
      assert.equal(body.statusCode, 404);
      assert.equal(body.error, 'Not Found');
    }
  });
});
