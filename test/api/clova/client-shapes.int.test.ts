/**
 * The shapes real clients give a long-form request's `params`, sent the way those clients send
 * them: curl's -F with and without `;type=`, fetch's FormData, and hand-built multipart where a
 * client library does something fetch cannot (a field with its own Content-Type, a BOM, another
 * charset). Each shape must be read, never replaced by defaults: most checks send a language
 * that does not exist and expect its ERROR_REQUEST_PARAMETER (proof the part was read, with no
 * model run), one per family runs the job for real.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { answer, type Answer } from '../../helpers/answer.js';
import { testdataDir } from '../../helpers/media-fixtures.js';
import { startServer, testConfig, testDomain, testEngine, type TestServer } from '../../helpers/server.js';

const run = promisify(execFile);
const KEY = 'shapes-secret';
const JFK = join(testdataDir(), 'en/jfk.flac');
const UNKNOWN_LANGUAGE = JSON.stringify({ language: 'xx-XX', completion: 'sync' });

let engine: SpeechEngine;
let server: TestServer;
let dataDir: string;
let jfk: Uint8Array<ArrayBuffer>;

before(async () => {
  engine = testEngine();
  jfk = new Uint8Array(await readFile(JFK));
  dataDir = await mkdtemp(join(tmpdir(), 'sori-shapes-'));
  const config = testConfig([testDomain('general', KEY)]);
  config.dataDir = dataDir;
  server = await startServer(engine, [], { jobsConfig: config, streaming: true });
});

after(async () => {
  await server?.close();
  await engine?.close();
  await rm(dataDir, { recursive: true, force: true });
});


/** The language error proves `params` was read; defaults would have accepted the job. */
function assertParamsRead({ status, body }: Answer, shape: string): void {
  assert.equal(status, 400, `${shape}: ${JSON.stringify(body)}`);
  assert.equal(body.result, 'ERROR_REQUEST_PARAMETER', shape);
  assert.match(String(body.message), /language/, shape);
}

async function curl(args: string[]): Promise<Answer> {
  const { stdout } = await run('curl', ['-s', '-w', '\n%{http_code}', ...args]);
  const lines = stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  const text = lines.join('\n');
  return { status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** One multipart part, as bytes; `headers` beyond Content-Disposition as given. */
function part(boundary: string, disposition: string, headers: string[], body: Uint8Array | string): Buffer {
  const head = [`--${boundary}`, `Content-Disposition: form-data; ${disposition}`, ...headers, '', ''].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'utf8'), typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body), Buffer.from('\r\n')]);
}

function multipart(parts: Buffer[], boundary: string): Buffer {
  return Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]);
}

function media(boundary: string): Buffer {
  return part(boundary, 'name="media"; filename="jfk.flac"', ['Content-Type: application/octet-stream'], jfk);
}

async function postMultipart(body: Buffer, boundary: string): Promise<Answer> {
  return fetch(`${server.url}/recognizer/upload`, {
    method: 'POST',
    headers: { 'x-clovaspeech-api-key': KEY, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: new Uint8Array(body),
  }).then(answer);
}

describe('params of /recognizer/upload, whatever the part looks like', () => {
  it('curl -F params=...;type=application/json (a field with its own type): read, and a sync job answers its result', async () => {
    const params = JSON.stringify({ language: 'en-US', completion: 'sync', wordAlignment: false });
    const done = await curl(['-H', `X-CLOVASPEECH-API-KEY: ${KEY}`, '-F', `media=@${JFK}`, '-F', `params=${params};type=application/json`, `${server.url}/recognizer/upload`]);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.result, 'COMPLETED');
    assert.equal((done.body.params as Record<string, unknown>).lang, 'en');
    assert.match(String(done.body.text), /ask not/i);
    assertParamsRead(
      await curl(['-H', `X-CLOVASPEECH-API-KEY: ${KEY}`, '-F', `media=@${JFK}`, '-F', `params=${UNKNOWN_LANGUAGE};type=application/json`, `${server.url}/recognizer/upload`]),
      'curl -F ;type=application/json',
    );
  });

  it('curl -F without a type, with a charset parameter, with lower-case header names', async () => {
    for (const type of ['', ';type=application/json;charset=UTF-8', ';type=application/json;UTF-8', ';type=text/plain']) {
      assertParamsRead(
        await curl(['-H', `x-clovaspeech-api-key: ${KEY}`, '-F', `media=@${JFK}`, '-F', `params=${UNKNOWN_LANGUAGE}${type}`, `${server.url}/recognizer/upload`]),
        `curl -F params${type}`,
      );
    }
  });

  it('fetch FormData: a string field, a Blob typed application/json with and without a filename, params before or after media', async () => {
    const shapes: Array<[string, (form: FormData) => void]> = [
      ['string field', (f) => f.append('params', UNKNOWN_LANGUAGE)],
      ['Blob typed application/json', (f) => f.append('params', new Blob([UNKNOWN_LANGUAGE], { type: 'application/json' }))],
      ['Blob with a filename', (f) => f.append('params', new Blob([UNKNOWN_LANGUAGE], { type: 'application/json' }), 'params.json')],
    ];
    for (const [shape, addParams] of shapes) {
      for (const paramsFirst of [false, true]) {
        const form = new FormData();
        if (paramsFirst) addParams(form);
        form.append('media', new Blob([jfk]), 'jfk.flac');
        if (!paramsFirst) addParams(form);
        const res = await fetch(`${server.url}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY }, body: form });
        assertParamsRead(await answer(res), `${shape}, params ${paramsFirst ? 'first' : 'last'}`);
      }
    }
  });

  it('a UTF-8 BOM, a file part in another charset (EUC-KR), and a field with no filename but a JSON type', async () => {
    const b = 'sori-shapes-boundary';
    const bom = `\uFEFF${UNKNOWN_LANGUAGE}`;
    assertParamsRead(await postMultipart(multipart([media(b), part(b, 'name="params"', [], bom)], b), b), 'text field with BOM');
    assertParamsRead(
      await postMultipart(multipart([media(b), part(b, 'name="params"; filename="p.json"', ['Content-Type: application/json'], bom)], b), b),
      'file part with BOM',
    );
    assertParamsRead(
      await postMultipart(multipart([part(b, 'name="params"', ['Content-Type: application/json; charset=utf-8'], UNKNOWN_LANGUAGE), media(b)], b), b),
      'field typed application/json',
    );
    // "금지" (forbidden) in EUC-KR, then the unknown language: the part decodes by its charset.
    const eucKr = Buffer.concat([Buffer.from('{"forbiddens":"'), Buffer.from([0xb1, 0xdd, 0xc1, 0xf6]), Buffer.from('","language":"xx-XX","completion":"sync"}')]);
    assertParamsRead(
      await postMultipart(multipart([media(b), part(b, 'name="params"; filename="p.json"', ['Content-Type: application/json; charset=EUC-KR'], eucKr)], b), b),
      'file part in EUC-KR',
    );
  });

  it('params that are not a JSON object are ERROR_PARAMS_FORMAT_INVALID, however they are sent; two params parts too', async () => {
    const b = 'sori-shapes-boundary';
    const broken = '{"language": "ko-KR", ';
    const cases: Array<[string, Buffer]> = [
      ['broken JSON field typed application/json', multipart([media(b), part(b, 'name="params"', ['Content-Type: application/json'], broken)], b)],
      ['broken JSON text field', multipart([media(b), part(b, 'name="params"', [], broken)], b)],
      ['broken JSON file part', multipart([media(b), part(b, 'name="params"; filename="p.json"', ['Content-Type: application/json'], broken)], b)],
      ['a JSON array', multipart([media(b), part(b, 'name="params"', ['Content-Type: application/json'], '[1,2]')], b)],
      ['a JSON string', multipart([media(b), part(b, 'name="params"', [], '"sync"')], b)],
      ['two params parts', multipart([media(b), part(b, 'name="params"', [], '{}'), part(b, 'name="params"', [], '{"completion":"sync"}')], b)],
    ];
    for (const [shape, body] of cases) {
      const { status, body: answerBody } = await postMultipart(body, b);
      assert.equal(status, 400, `${shape}: ${JSON.stringify(answerBody)}`);
      assert.equal(answerBody.result, 'ERROR_PARAMS_FORMAT_INVALID', shape);
    }
  });
});

describe('JSON bodies of /recognizer/url and /recognizer/object-storage, whatever their Content-Type', () => {
  const body = JSON.stringify({ url: 'http://127.0.0.1:9/jfk.flac', dataKey: 'a/b.flac', language: 'xx-XX', completion: 'sync' });
  for (const path of ['/recognizer/url', '/recognizer/object-storage']) {
    it(`${path}: application/json;UTF-8, text/plain, none, a BOM`, async () => {
      const shapes: Array<[string, Record<string, string>, BodyInit]> = [
        ['application/json;UTF-8', { 'content-type': 'application/json;UTF-8' }, body],
        ['application/json; charset=utf-8', { 'content-type': 'application/json; charset=utf-8' }, body],
        ['text/plain', { 'content-type': 'text/plain' }, body],
        ['no Content-Type', {}, new TextEncoder().encode(body)],
        ['a BOM', { 'content-type': 'application/json' }, `\uFEFF${body}`],
      ];
      for (const [shape, headers, payload] of shapes) {
        const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY, ...headers }, body: payload });
        assertParamsRead(await answer(res), `${path} ${shape}`);
      }
      const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY, 'content-type': 'application/json' }, body: '{"url": ' });
      const broken = await answer(res);
      assert.equal(broken.status, 400);
      assert.equal(broken.body.result, 'ERROR_PARAMS_FORMAT_INVALID');
    });
  }
});

describe('Upgrade: h2c (Java\'s default HttpClient, curl --http2) on plain HTTP', () => {
  /**
   * Requests as java.net.http writes them, on one kept-alive connection: headers and a small
   * body in one write, the first with `Upgrade: h2c`. Resolves with each answer's status and body.
   */
  function onOneConnection(requests: Array<{ path: string; body: string; upgrade: boolean }>): Promise<Array<{ status: number; text: string }>> {
    const { port } = new URL(server.url);
    return new Promise((resolve, reject) => {
      const answers: Array<{ status: number; text: string }> = [];
      const socket = connect(Number(port), '127.0.0.1');
      const send = (i: number): void => {
        const { path, body, upgrade } = requests[i]!;
        socket.write([
          `POST ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`,
          ...(upgrade ? ['Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAEAAEAAAAIAAAABAAMAAABkAAQBAAAAAAUAAEAA'] : []),
          `X-CLOVASPEECH-API-KEY: ${KEY}`, 'Content-Type: application/json;UTF-8', `Content-Length: ${Buffer.byteLength(body)}`, '', body,
        ].join('\r\n'));
      };
      let raw = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        raw += chunk;
        const end = raw.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = raw.slice(0, end);
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
        if (raw.length - end - 4 < length) return;
        answers.push({ status: Number(head.split(' ')[1]), text: raw.slice(end + 4, end + 4 + length) });
        raw = raw.slice(end + 4 + length);
        if (answers.length === requests.length) {
          socket.destroy();
          resolve(answers);
        } else send(answers.length);
      });
      socket.on('error', reject);
      socket.setTimeout(10_000, () => {
        socket.destroy();
        reject(new Error(`answer ${answers.length + 1} of ${requests.length} never came on the kept-alive connection`));
      });
      send(0);
    });
  }

  it('is answered as HTTP/1.1 with its body read, and the connection serves the next request', async () => {
    const body = UNKNOWN_LANGUAGE.replace('{', '{"url":"http://127.0.0.1:9/a.flac",');
    const answers = await onOneConnection([
      { path: '/recognizer/url', body, upgrade: true },
      { path: '/recognizer/object-storage', body, upgrade: false },
    ]);
    answers.forEach(({ status, text }, i) => assertParamsRead({ status, body: JSON.parse(text) as Record<string, unknown> }, `request ${i + 1} on the connection`));
    const short = await curl(['--http2', '-H', `X-CLOVASPEECH-API-KEY: ${KEY}`, '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${JFK}`, `${server.url}/recog/v1/stt?lang=Eng`]);
    assert.equal(short.status, 200, JSON.stringify(short.body));
    assert.match(String(short.body.text), /ask not/i);
  });
});

describe('the short API through curl', () => {
  it('--data-binary @file with the header names in any case', async () => {
    for (const [keyHeader, typeHeader] of [['X-CLOVASPEECH-API-KEY', 'Content-Type'], ['x-clovaspeech-api-key', 'content-type'], ['X-ClovaSpeech-Api-Key', 'CONTENT-TYPE']]) {
      const { status, body } = await curl([
        '-X', 'POST', '-H', `${keyHeader}: ${KEY}`, '-H', `${typeHeader}: application/octet-stream`, '--data-binary', `@${JFK}`, `${server.url}/recog/v1/stt?lang=Eng`,
      ]);
      assert.equal(status, 200, `${keyHeader}: ${JSON.stringify(body)}`);
      assert.match(String(body.text), /ask not/i);
    }
  });
});

