/**
 * Compatibility with Python `requests` written the way NAVER's Python sample is
 * (test/compat/python/clova_requests.py): every shape of the upload's `params` part that
 * `requests` users write, sync and async (polled, and with a callback), url and object storage,
 * the short API and two errors. The client checks that each request was honoured; the stage
 * checks each body against CLOVA's schemas and each promised callback; this file checks that
 * every shape answered, with the schema and status it should have.
 *
 * Needs the venv that scripts/test-clients/python.sh makes (.test-tools/py with requests).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { SchemaName } from './clova-schemas.js';
import { startStage, type ClientAnswer, type Stage } from './harness.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PYTHON = join(ROOT, '.test-tools/py/bin/python');
const CLIENT = join(ROOT, 'test/compat/python/clova_requests.py');

// The `params` part as the client sends it (its PARAMS_SHAPES).
const SAMPLE = "params=(None, bytes, 'application/json')";
const TEXT_FIELD = 'params=(None, str)';
const FILE_PART = "params=('params.json', bytes, 'application/json')";
const DATA_AND_FILES = "data={'params': str} + files={'media': f}";

/** Every shape the client must report, with the one answer (schema, HTTP status) it gets. */
const ONE_ANSWER: Record<string, [SchemaName, number]> = {
  [`upload ${TEXT_FIELD} async with callback`]: ['longformAccepted', 200],
  [`upload ${SAMPLE} async`]: ['longformAccepted', 200],
  [`upload ${SAMPLE} sync`]: ['longformCompleted', 200],
  [`upload ${TEXT_FIELD} sync`]: ['longformCompleted', 200],
  [`upload ${FILE_PART} sync`]: ['longformCompleted', 200],
  [`upload ${DATA_AND_FILES} sync`]: ['longformCompleted', 200],
  'url sync': ['longformCompleted', 200],
  'url sync, InvokeURL /external/v1/{domainId}/{invokeKey}': ['longformCompleted', 200],
  'object-storage sync': ['longformCompleted', 200],
  'short lang=Eng': ['shortSuccess', 200],
  'short assessment': ['shortSuccess', 200],
  'short without lang': ['shortError', 400],
  'url with a bad secret': ['longformError', 401],
};
/** Polling: WAITING/PROCESSING answers (as many as it took), then the result. */
const POLLED = `upload ${SAMPLE} async: status`;

let stage: Stage;

before(async () => {
  assert.ok(existsSync(PYTHON), 'no .test-tools/py: run scripts/test-clients/python.sh');
  stage = await startStage();
});

after(async () => {
  await stage?.close();
});

describe('Python requests, as NAVER\'s ClovaSpeechClient sample uses it', () => {
  it('every params shape, sync, async polled and with a callback, url (also under an InvokeURL path), object storage, the short API and errors: honoured and CLOVA-shaped', async () => {
    const answers = await stage.runClient(PYTHON, [CLIENT]);
    const byShape = new Map<string, ClientAnswer[]>();
    for (const a of answers) {
      assert.equal(a.client, 'python-requests');
      byShape.set(a.shape, [...(byShape.get(a.shape) ?? []), a]);
    }
    assert.deepEqual([...byShape.keys()].sort(), [...Object.keys(ONE_ANSWER), POLLED].sort());

    for (const [shape, [schema, status]] of Object.entries(ONE_ANSWER)) {
      const got = byShape.get(shape) ?? [];
      assert.deepEqual(got.map((a) => [a.schema, a.status]), [[schema, status]], shape);
    }

    const polled = byShape.get(POLLED) ?? [];
    const last = polled.at(-1);
    assert.deepEqual(polled.slice(0, -1).map((a) => a.schema).filter((s) => s !== 'longformPending'), [], POLLED);
    assert.equal(last?.schema, 'longformCompleted', POLLED);
    const accepted = byShape.get(`upload ${SAMPLE} async`)?.[0]?.body as { token: string };
    assert.equal((last?.body as { token: string }).token, accepted.token, 'the polled job is the accepted one');

    // The callback (its schema already checked by the stage) is the job with this request's params.
    const hooked = byShape.get(`upload ${TEXT_FIELD} async with callback`)?.[0];
    assert.ok(hooked?.callbackFor !== undefined, 'the callback shape names its token');
    const [callback] = (await stage.callbacksFor(hooked.callbackFor)) as Array<{
      token: string; text: string; params: { lang: string; completion: string; callback: string; userdata: unknown }; speakers: unknown[];
    }>;
    assert.equal(callback.token, hooked.callbackFor);
    assert.equal(callback.params.lang, 'en');
    assert.equal(callback.params.completion, 'async');
    assert.equal(callback.params.callback, stage.env.CALLBACK_URL);
    assert.deepEqual(callback.params.userdata, { flow: 'callback' });
    assert.deepEqual(callback.speakers, []);
    assert.match(callback.text, /ask not/i);
  });
});
