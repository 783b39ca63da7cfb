/**
 * CLOVA's long-form and short APIs through the HTTP clients Node users reach for: global fetch
 * with FormData (params as a Blob typed application/json), the `form-data` package, and axios
 * (which sends `Accept: application/json, text/plain, *\/*` and its own multipart encoding). Each
 * answer is checked against CLOVA's body schemas and against what the request asked for.
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import axios from 'axios';
import NodeFormData from 'form-data';
import { assertClovaBody } from './clova-schemas.js';
import { startStage, type Stage } from './harness.js';

let stage: Stage;
let clip: Uint8Array<ArrayBuffer>;

before(async () => {
  stage = await startStage();
  clip = new Uint8Array(await readFile(stage.env.MEDIA_PATH));
});

after(async () => {
  await stage?.close();
});

const params = (extra: Record<string, unknown> = {}) => ({ language: 'en-US', completion: 'sync', userdata: { client: 'node' }, ...extra });

/** What every completed answer here must show: the clip's words and the params as sent. */
function assertHonoured(body: Record<string, unknown>, shape: string, userdata: unknown = { client: 'node' }): void {
  assertClovaBody('longformCompleted', body, shape);
  const echoed = body.params as Record<string, unknown>;
  assert.equal(echoed.lang, 'en', shape);
  assert.deepEqual(echoed.userdata, userdata, shape);
  assert.match(String(body.text), /ask not/i, shape);
}

describe('global fetch', () => {
  it('FormData with params as a Blob typed application/json, sync; async with a callback and polling', async () => {
    const form = new FormData();
    form.append('media', new Blob([clip]), 'jfk.flac');
    form.append('params', new Blob([JSON.stringify(params())], { type: 'application/json' }));
    const sync = await fetch(`${stage.env.SORI_URL}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': stage.env.SORI_KEY }, body: form });
    assert.equal(sync.status, 200);
    assertHonoured((await sync.json()) as Record<string, unknown>, 'fetch Blob params');

    const asyncForm = new FormData();
    asyncForm.append('media', new Blob([clip]), 'jfk.flac');
    asyncForm.append('params', JSON.stringify(params({ completion: 'async', callback: stage.env.CALLBACK_URL })));
    const accepted = await fetch(`${stage.env.SORI_URL}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': stage.env.SORI_KEY }, body: asyncForm });
    const acceptedBody = (await accepted.json()) as Record<string, unknown>;
    assertClovaBody('longformAccepted', acceptedBody, 'fetch async');
    const token = String(acceptedBody.token);
    for (;;) {
      const status = (await (await fetch(`${stage.env.SORI_URL}/recognizer/${token}`, { headers: { 'X-CLOVASPEECH-API-KEY': stage.env.SORI_KEY } })).json()) as Record<string, unknown>;
      if (status.result === 'WAITING' || status.result === 'PROCESSING') {
        assertClovaBody('longformPending', status, 'fetch polling');
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      assertHonoured(status, 'fetch polled result');
      break;
    }
    const callbacks = await stage.callbacksFor(token);
    assert.equal(callbacks.length, 1);
    assertHonoured(callbacks[0] as Record<string, unknown>, 'fetch callback');
  });

  it('a job that fails is polled to FAILED with the spec\'s error code', async () => {
    const form = new FormData();
    form.append('media', new Blob([new TextEncoder().encode('not audio at all, just text')]), 'notes.flac');
    form.append('params', JSON.stringify({ language: 'en-US', completion: 'async' }));
    const accepted = await fetch(`${stage.env.SORI_URL}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': stage.env.SORI_KEY }, body: form });
    const { token } = (await accepted.json()) as { token: string };
    for (;;) {
      const status = (await (await fetch(`${stage.env.SORI_URL}/recognizer/${token}`, { headers: { 'X-CLOVASPEECH-API-KEY': stage.env.SORI_KEY } })).json()) as Record<string, unknown>;
      if (status.result === 'WAITING' || status.result === 'PROCESSING') {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      assertClovaBody('longformFailed', status, 'failed job');
      assert.equal(status.errorCode, 'ERROR_AUDIO_CONVERSION');
      break;
    }
  });

  it('the short API with the audio as the body', async () => {
    const res = await fetch(`${stage.env.SORI_URL}/recog/v1/stt?lang=Eng`, {
      method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': stage.env.SORI_KEY, 'Content-Type': 'application/octet-stream' }, body: clip,
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assertClovaBody('shortSuccess', body, 'fetch short');
    assert.match(String(body.text), /ask not/i);
  });
});

describe('the form-data package', () => {
  it('params as a field with its own Content-Type (no filename), media from a stream, submitted with form.submit', async () => {
    const form = new NodeFormData();
    form.append('media', createReadStream(stage.env.MEDIA_PATH));
    form.append('params', JSON.stringify(params({ userdata: 'form-data' })), { contentType: 'application/json' });
    const { status, body } = await new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      form.submit({ host: '127.0.0.1', port: Number(new URL(stage.env.SORI_URL).port), path: '/recognizer/upload', headers: { 'X-CLOVASPEECH-API-KEY': stage.env.SORI_KEY } }, (err, res) => {
        if (err) return reject(err);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
        res.on('error', reject);
      });
    });
    assert.equal(status, 200, JSON.stringify(body));
    assertHonoured(body, 'form-data field typed application/json', 'form-data');
  });
});

describe('axios', () => {
  const client = axios.create({ baseURL: '', validateStatus: () => true });

  it('multipart from a browser-style FormData, JSON bodies for url and object storage, errors in CLOVA\'s shape', async () => {
    client.defaults.baseURL = stage.env.SORI_URL;
    const headers = { 'X-CLOVASPEECH-API-KEY': stage.env.SORI_KEY };
    const form = new FormData();
    form.append('media', new Blob([clip]), 'jfk.flac');
    form.append('params', JSON.stringify(params({ userdata: 'axios' })));
    const upload = await client.post('/recognizer/upload', form, { headers });
    assert.equal(upload.status, 200, JSON.stringify(upload.data));
    assertHonoured(upload.data as Record<string, unknown>, 'axios upload', 'axios');

    const url = await client.post('/recognizer/url', { url: stage.env.MEDIA_URL, ...params({ userdata: 'axios' }) }, { headers });
    assert.equal(url.status, 200, JSON.stringify(url.data));
    assertHonoured(url.data as Record<string, unknown>, 'axios url', 'axios');

    const object = await client.post('/recognizer/object-storage', { dataKey: stage.env.OBJECT_KEY, ...params({ userdata: 'axios' }) }, { headers });
    assert.equal(object.status, 200, JSON.stringify(object.data));
    assertHonoured(object.data as Record<string, unknown>, 'axios object storage', 'axios');

    const refused = await client.post('/recognizer/url', { url: stage.env.MEDIA_URL }, { headers: { 'X-CLOVASPEECH-API-KEY': 'wrong' } });
    assert.equal(refused.status, 401);
    assertClovaBody('longformError', refused.data, 'axios bad secret');

    const short = await client.post('/recog/v1/stt?lang=Eng&graph=true', clip, { headers: { ...headers, 'Content-Type': 'application/octet-stream' } });
    assert.equal(short.status, 200);
    assertClovaBody('shortSuccess', short.data, 'axios short');
    assert.ok(Array.isArray((short.data as Record<string, unknown>).usr_graph));

    const noLang = await client.post('/recog/v1/stt', clip, { headers: { ...headers, 'Content-Type': 'application/octet-stream' } });
    assert.equal(noLang.status, 400);
    assertClovaBody('shortError', noLang.data, 'axios short without lang');
  });
});
