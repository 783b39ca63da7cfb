import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SpeechEngine } from '../../src/speech/engine.js';
import { postStt, startServer, testDomain, testEngine, type TestServer } from '../helpers/server.js';

let engine: SpeechEngine;
let server: TestServer;

before(async () => {
  engine = testEngine({ parallel: 1 });
  server = await startServer(engine, [testDomain('general', 'metrics-test-secret')]);
  await engine.ready();
});
after(async () => {
  await server?.close();
  await engine?.close();
});

describe('GET /metrics', () => {
  it('exposes process, request and engine metrics in Prometheus text', async () => {
    await fetch(`${server.url}/healthz`);
    await postStt(server.url, new Uint8Array(1), { key: 'wrong', query: 'lang=Kor' });
    await fetch(`${server.url}/no/such/path?x=1`);

    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    for (const name of ['nodejs_eventloop_lag_p99_seconds', 'process_resident_memory_bytes']) {
      assert.match(text, new RegExp(`^${name} `, 'm'), `default metric ${name}`);
    }
    assert.match(text, /^sori_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1$/m);
    assert.match(text, /^sori_http_requests_total\{method="POST",route="\/recog\/v1\/stt",status="401"\} 1$/m);
    assert.match(text, /^sori_http_request_duration_seconds_count\{method="POST",route="\/recog\/v1\/stt",status="401"\} 1$/m);
    // Unknown paths share one series instead of creating one each.
    assert.match(text, /route="unmatched",status="404"/);
    assert.ok(!text.includes('/no/such/path'));
    assert.match(text, /^sori_engine_capacity 1$/m);
    assert.match(text, /^sori_engine_queued 0$/m);
    assert.match(text, /^sori_engine_running 0$/m);
    assert.match(text, /^sori_auth_failures_total 1$/m, 'the wrong secret');
    assert.match(text, /^sori_auth_throttled_total 0$/m);
  });
});
