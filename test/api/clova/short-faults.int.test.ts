/**
 * STT998 and STT999 need the engine to fail internally, which no real input can cause on
 * purpose: these tests use a fake engine for that fault only. Everything else (HTTP, auth,
 * ffmpeg decoding of a real recording) is real.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineFailedError, type SpeechEngine, type Transcript } from '../../../src/speech/engine.js';
import { testdataDir } from '../../helpers/media-fixtures.js';
import { postStt, startServer, testDomain, type TestServer } from '../../helpers/server.js';

const KEY = 'faults-test-secret-51d0';

/** FAKE: an engine whose runtime fails with the error the test chooses. */
class FailingEngine implements SpeechEngine {
  readonly version = 'failing-fake';
  failure: Error = new EngineFailedError('onnxruntime: fake failure');
  ready(): Promise<void> {
    return Promise.resolve();
  }
  transcribe(): Promise<Transcript> {
    return Promise.reject(this.failure);
  }
  load() {
    return { queued: 0, running: 0, capacity: 1 };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const engine = new FailingEngine();
let server: TestServer;
let speech: Buffer;

before(async () => {
  speech = await readFile(path.join(testdataDir(), 'en/ps_goforward.flac'));
  server = await startServer(engine, [testDomain('general', KEY)]);
});

after(async () => {
  await server?.close();
});

async function expectError(status: number, errorCode: string, message: string): Promise<void> {
  const answer = await postStt(server.url, speech, { key: KEY, query: 'lang=Eng' });
  assert.equal(answer.status, status);
  const body = answer.body as { timestamp: unknown; error: unknown };
  assert.deepEqual(Object.keys(body).sort(), ['error', 'timestamp']);
  assert.equal(typeof body.timestamp, 'number');
  assert.deepEqual(body.error, { errorCode, message });
}

describe('POST /recog/v1/stt when the engine fails', () => {
  it('answers 500 STT998 for a recognition failure', async () => {
    engine.failure = new EngineFailedError('onnxruntime: fake failure');
    await expectError(500, 'STT998', 'Failed to STT');
  });

  it('answers 500 STT999 for anything unexpected, without leaking its message', async () => {
    engine.failure = new TypeError('fake bug: cannot read properties of undefined');
    await expectError(500, 'STT999', 'Internal Server Error');
    assert.ok(server.logText().includes('fake bug'), 'the cause is in the log for the operator');
  });
});
