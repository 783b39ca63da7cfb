/**
 * The OpenAPI document against the real server (every route mounted: long-form jobs, the
 * WebSocket): a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator), every route
 * fastify serves documented, Swagger UI at /docs from local files under a strict CSP, and real
 * answers of every API family, successes and errors, valid against the response schemas the
 * document gives for their route and status (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses), so
 * the document cannot drift from the wire.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { WEB_ROOT } from '../../src/api/console.js';
import type { Config } from '../../src/config.js';
import type { SpeechEngine } from '../../src/speech/engine.js';
import { testdataDir } from '../helpers/media-fixtures.js';
import { startServer, testConfig, testDomain, testEngine, type TestServer } from '../helpers/server.js';

const KEY = 'openapi-test-secret';
const OTHER_KEY = 'openapi-other-secret';
const JFK = join(testdataDir(), 'en/jfk.flac');

interface MediaType { schema?: object }
interface Operation { responses: Record<string, { content?: Record<string, MediaType> }>; security?: Array<Record<string, string[]>> }
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown> };
}

let engine: SpeechEngine;
let server: TestServer;
let dataDir: string;
let doc: OpenApiDocument;
let jfk: Uint8Array<ArrayBuffer>;

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });

/** fastify's `/recognizer/:token` is OpenAPI's `/recognizer/{token}`. */
const openapiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * Asserts that `res` (status, content type and body) is what the document says `method path`
 * answers: the status is documented, and the body is valid against its schema for that type.
 */
async function assertDocumented(method: string, path: string, res: Response): Promise<unknown> {
  const text = await res.text();
  const operation = doc.paths[path]?.[method.toLowerCase()];
  assert.ok(operation, `${method} ${path} is not in the document`);
  const response = operation.responses[String(res.status)];
  assert.ok(response, `${method} ${path}: status ${res.status} is not documented (${Object.keys(operation.responses).join(', ')}): ${text.slice(0, 200)}`);
  const type = (res.headers.get('content-type') ?? '').split(';')[0].trim();
  const media = response.content?.[type];
  assert.ok(media?.schema, `${method} ${path} ${res.status}: no schema for ${type} (${Object.keys(response.content ?? {}).join(', ')})`);
  const body: unknown = type.endsWith('json') ? JSON.parse(text) : text;
  // The schema's `$ref`s point into the document's components.schemas.
  const validate = ajv.compile({ ...media.schema, components: doc.components });
  assert.ok(validate(body), `${method} ${path} ${res.status}: ${ajv.errorsText(validate.errors)}\n${text.slice(0, 500)}`);
  return body;
}

/**
 * Every method and path fastify serves, from its route tree (`printRoutes` draws one line per
 * node: four columns per level, the node's part of the path, its methods).
 */
function servedRoutes(printed: string): Array<{ method: string; path: string }> {
  const routes: Array<{ method: string; path: string }> = [];
  const stack: string[] = [];
  for (const line of printed.split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (m === null) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + m[2];
    stack[depth] = path;
    for (const method of m[3]?.split(', ') ?? []) routes.push({ method, path });
  }
  return routes;
}

async function jobsConfig(): Promise<Config> {
  dataDir = await mkdtemp(join(tmpdir(), 'sori-openapi-'));
  const c = testConfig([testDomain('general', KEY), testDomain('other', OTHER_KEY)]);
  c.dataDir = dataDir;
  // Everything the server can mount, the web console included.
  c.server.console = true;
  return c;
}

before(async () => {
  engine = testEngine();
  jfk = new Uint8Array(await readFile(JFK));
  server = await startServer(engine, [], { jobsConfig: await jobsConfig(), streaming: true });
  const res = await fetch(`${server.url}/openapi.json`);
  assert.equal(res.status, 200);
  doc = (await res.json()) as OpenApiDocument;
});

after(async () => {
  await server?.close();
  await engine?.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>);
    assert.equal(validator.version, '3.1');
    assert.ok(result.valid, JSON.stringify(result.errors, null, 1));
    assert.equal(doc.openapi, '3.1.0');
  });

  it('documents every route the server serves, and nothing it does not', async () => {
    // The web console's files are pages, not API: one route per file of web/, and `/`.
    const consoleFiles = new Set(['/', ...(await readdir(WEB_ROOT, { recursive: true })).map((f) => `/${f}`)]);
    const all = servedRoutes(server.app.printRoutes({ commonPrefix: false }));
    assert.ok(all.some((r) => r.method === 'GET' && r.path === '/index.html'), 'the console is mounted');
    const served = all
      // HEAD answers as GET does; /docs is the document's own viewer.
      .filter((r) => r.method !== 'HEAD' && !r.path.startsWith('/docs') && !consoleFiles.has(r.path))
      .map((r) => `${r.method} ${openapiPath(r.path)}`)
      .sort();
    // The parse found the route tree (a change of printRoutes' drawing must fail here, not pass empty).
    for (const known of ['POST /recog/v1/stt', 'GET /recognizer/{token}', 'GET /recognizer', 'GET /recognizer/{token}/subtitle', 'POST /external/v1/{domainId}/{invokeKey}/recognizer/upload', 'GET /recognizer/stream', 'POST /v1/audio/transcriptions']) {
      assert.ok(served.includes(known), `${known} not found in\n${served.join('\n')}`);
    }
    const documented = Object.entries(doc.paths)
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    assert.deepEqual(documented, served);
  });

  it('describes every route with a summary, a tag, its security and its answers', () => {
    const schemes = Object.keys(doc.components.securitySchemes);
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations) as Array<[string, Operation & { summary?: string; tags?: string[]; operationId?: string }]>) {
        const where = `${method.toUpperCase()} ${path}`;
        assert.ok(op.summary, `${where}: no summary`);
        assert.ok(op.tags?.length, `${where}: no tag`);
        assert.ok(op.operationId, `${where}: no operationId`);
        assert.ok(op.security !== undefined, `${where}: no security`);
        for (const requirement of op.security) for (const name of Object.keys(requirement)) assert.ok(schemes.includes(name), `${where}: unknown scheme ${name}`);
        assert.ok(Object.keys(op.responses).length > 0 && !('Default Response' in op.responses), where);
      }
    }
    // The routes that take a secret say which.
    assert.deepEqual(doc.paths['/recog/v1/stt'].post.security, [{ clovaApiKey: [] }]);
    assert.deepEqual(doc.paths['/v1/audio/transcriptions'].post.security, [{ bearerAuth: [] }]);
    assert.deepEqual(doc.paths['/healthz'].get.security, []);
  });
});

describe('/docs', () => {
  it('serves Swagger UI from local files under a strict Content-Security-Policy', async () => {
    const res = await fetch(`${server.url}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /style-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https:/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script>|<style>|https?:\/\//, 'no inline script or style, nothing from elsewhere');
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.some((a) => a.endsWith('swagger-ui-bundle.js')) && assets.some((a) => a.endsWith('swagger-ui.css')), assets.join(' '));
    for (const asset of assets) {
      assert.ok(asset.startsWith('/docs/static/'), asset);
      const file = await fetch(`${server.url}${asset}`);
      assert.equal(file.status, 200, asset);
      assert.ok((await file.arrayBuffer()).byteLength > 0, asset);
    }
    // The page loads the document from /docs/json: the same one.
    assert.deepEqual(await (await fetch(`${server.url}/docs/json`)).json(), doc);
  });

  it('needs no secret, and is off with server.docs: false', async () => {
    const config = testConfig([testDomain('general', KEY)]);
    config.server.docs = false;
    const off = await startServer(engine, [], { config });
    try {
      for (const path of ['/openapi.json', '/docs', '/docs/static/swagger-ui-bundle.js']) {
        assert.equal((await fetch(`${off.url}${path}`)).status, 404, path);
      }
      // The routes are the same without it.
      assert.equal((await fetch(`${off.url}/recog/v1/stt`, { method: 'POST' })).status, 401);
    } finally {
      await off.close();
    }
  });
});

describe('real answers match their documented schemas', () => {
  const clova = { 'x-clovaspeech-api-key': KEY };
  const bearer = { authorization: `Bearer ${KEY}` };

  it('CLOVA short recognition: a transcript and errors', async () => {
    const stt = (query: string, headers: Record<string, string>) =>
      fetch(`${server.url}/recog/v1/stt${query}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...headers }, body: jfk });
    const ok = (await assertDocumented('POST', '/recog/v1/stt', await stt('?lang=Eng&graph=true', clova))) as { text: string; usr_graph: number[] };
    assert.match(ok.text, /country/i);
    assert.ok(ok.usr_graph.length > 0);
    await assertDocumented('POST', '/recog/v1/stt', await stt('', clova));
    await assertDocumented('POST', '/recog/v1/stt', await stt('?lang=Eng', { 'x-clovaspeech-api-key': 'wrong-openapi-secret' }));
  });

  it('CLOVA long-form: a sync result, the job, its deliveries and errors', async () => {
    const form = new FormData();
    form.set('media', new Blob([jfk]), 'jfk.flac');
    form.set('params', JSON.stringify({ language: 'en-US', completion: 'sync', diarization: { enable: false }, format: 'VTT' }));
    const done = (await assertDocumented('POST', '/recognizer/upload', await fetch(`${server.url}/recognizer/upload`, { method: 'POST', headers: clova, body: form }))) as {
      result: string;
      token: string;
      subtitle: string;
    };
    assert.equal(done.result, 'COMPLETED');
    assert.match(done.subtitle, /^WEBVTT/);
    const job = (await assertDocumented('GET', '/recognizer/{token}', await fetch(`${server.url}/recognizer/${done.token}`, { headers: clova }))) as { token: string };
    assert.equal(job.token, done.token);
    await assertDocumented('GET', '/recognizer/{token}', await fetch(`${server.url}/recognizer/${done.token}`, { headers: { ...clova, accept: 'text/vtt' } }));
    await assertDocumented('GET', '/recognizer/{token}/deliveries', await fetch(`${server.url}/recognizer/${done.token}/deliveries`, { headers: clova }));
    await assertDocumented('GET', '/recognizer/{token}/subtitle', await fetch(`${server.url}/recognizer/${done.token}/subtitle?format=SRT`, { headers: clova }));
    await assertDocumented('GET', '/recognizer/{token}/subtitle', await fetch(`${server.url}/recognizer/${done.token}/subtitle?format=TXT`, { headers: clova }));
    const list = (await assertDocumented('GET', '/recognizer', await fetch(`${server.url}/recognizer?limit=1`, { headers: clova }))) as { jobs: unknown[] };
    assert.equal(list.jobs.length, 1);
    await assertDocumented('GET', '/recognizer', await fetch(`${server.url}/recognizer?limit=0`, { headers: clova }));
    await assertDocumented('GET', '/external/v1/{domainId}/{invokeKey}/recognizer/{token}', await fetch(`${server.url}/external/v1/1/abc/recognizer/${done.token}`, { headers: clova }));

    const asyncForm = new FormData();
    asyncForm.set('media', new Blob([jfk]), 'jfk.flac');
    asyncForm.set('params', JSON.stringify({ language: 'en-US', diarization: { enable: false } }));
    const accepted = (await assertDocumented('POST', '/recognizer/upload', await fetch(`${server.url}/recognizer/upload`, { method: 'POST', headers: clova, body: asyncForm }))) as { token: string };
    await assertDocumented('GET', '/recognizer/{token}', await fetch(`${server.url}/recognizer/${accepted.token}`, { headers: clova }));

    const json = { ...clova, 'content-type': 'application/json' };
    await assertDocumented('POST', '/recognizer/url', await fetch(`${server.url}/recognizer/url`, { method: 'POST', headers: json, body: JSON.stringify({ url: 'ftp://x/y' }) }));
    await assertDocumented('POST', '/recognizer/url', await fetch(`${server.url}/recognizer/url`, { method: 'POST', headers: json, body: '{broken' }));
    await assertDocumented('POST', '/recognizer/object-storage', await fetch(`${server.url}/recognizer/object-storage`, { method: 'POST', headers: json, body: '{"dataKey":"a.wav"}' }));
    await assertDocumented('GET', '/recognizer/{token}', await fetch(`${server.url}/recognizer/${'0'.repeat(32)}`, { headers: clova }));
    await assertDocumented('GET', '/recognizer/{token}', await fetch(`${server.url}/recognizer/${done.token}`, { headers: { 'x-clovaspeech-api-key': OTHER_KEY } }));
    await assertDocumented('GET', '/recognizer/{token}', await fetch(`${server.url}/recognizer/${done.token}`));
  });

  it('OpenAI: json, verbose_json, text, models and errors', async () => {
    const transcribe = (fields: Record<string, string>, headers: Record<string, string> = bearer) => {
      const form = new FormData();
      form.set('file', new Blob([jfk]), 'jfk.flac');
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      return fetch(`${server.url}/v1/audio/transcriptions`, { method: 'POST', headers, body: form });
    };
    const json = (await assertDocumented('POST', '/v1/audio/transcriptions', await transcribe({ model: 'whisper-1' }))) as { text: string };
    assert.match(json.text, /country/i);
    const verbose = (await assertDocumented(
      'POST', '/v1/audio/transcriptions', await transcribe({ model: 'whisper-1', response_format: 'verbose_json', 'timestamp_granularities[]': 'word' }),
    )) as { words: unknown[] };
    assert.ok(verbose.words.length > 0);
    await assertDocumented('POST', '/v1/audio/transcriptions', await transcribe({ model: 'whisper-1', response_format: 'vtt' }));
    await assertDocumented('POST', '/v1/audio/transcriptions', await transcribe({}));
    await assertDocumented('POST', '/v1/audio/transcriptions', await transcribe({ model: 'no-such-model' }));
    await assertDocumented('POST', '/v1/audio/transcriptions', await transcribe({ model: 'whisper-1' }, { authorization: 'Bearer wrong-openapi-secret' }));
    await assertDocumented('GET', '/v1/models', await fetch(`${server.url}/v1/models`, { headers: bearer }));
    await assertDocumented('GET', '/v1/models/{id}', await fetch(`${server.url}/v1/models/whisper-1`, { headers: bearer }));
    await assertDocumented('GET', '/v1/models/{id}', await fetch(`${server.url}/v1/models/nope`, { headers: bearer }));
  });

  it('admin, health and metrics', async () => {
    const path = '/admin/domains/{domain}/boostings';
    const put = await fetch(`${server.url}/admin/domains/general/boostings`, {
      method: 'PUT', headers: { ...bearer, 'content-type': 'application/json' }, body: JSON.stringify({ keywords: ['심폐소생술'] }),
    });
    await assertDocumented('PUT', path, put);
    await assertDocumented('PUT', path, await fetch(`${server.url}/admin/domains/general/boostings`, {
      method: 'PUT', headers: { ...clova, 'content-type': 'application/json' }, body: '{"words": 1}',
    }));
    await assertDocumented('GET', path, await fetch(`${server.url}/admin/domains/general/boostings`, { headers: clova }));
    await assertDocumented('GET', path, await fetch(`${server.url}/admin/domains/other/boostings`, { headers: clova }));
    await assertDocumented('DELETE', path, await fetch(`${server.url}/admin/domains/general/boostings`, { method: 'DELETE', headers: clova }));
    await engine.ready();
    await assertDocumented('GET', '/healthz', await fetch(`${server.url}/healthz`));
    await assertDocumented('GET', '/metrics', await fetch(`${server.url}/metrics`));
    await assertDocumented('GET', '/openapi.json', await fetch(`${server.url}/openapi.json`));
  });
});
