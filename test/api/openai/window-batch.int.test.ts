/**
 * engine.windowBatch through the OpenAI route: a file longer than one window, its language named,
 * reaches the engine as one request of its windows; without a language, the first window has to
 * identify it, so the windows go one at a time as before. Real server in process, real engine.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { testdataDir } from '../../helpers/media-fixtures.js';
import { startServer, testDomain, testEngine, type TestServer } from '../../helpers/server.js';
import { registerSecrets } from '../../helpers/test-logs.js';

const KEY = 'openai-window-batch-test-secret';

let engine: SpeechEngine;
let server: TestServer;
let long: Buffer;
const groups: number[] = [];

before(async () => {
  engine = testEngine({ windowBatch: 2 });
  await engine.ready();
  // Counts grouped requests (instrumentation only: every call goes to the real engine).
  const many = engine.transcribeMany!.bind(engine);
  engine.transcribeMany = (pcms, opts) => {
    groups.push(pcms.length);
    return many(pcms, opts);
  };
  registerSecrets('domain', KEY);
  server = await startServer(engine, [testDomain('general', KEY)]);
  long = await readFile(join(testdataDir(), 'en/jobs_dots.flac'));
});
after(async () => {
  await server?.close();
  await engine?.close();
});

async function transcribe(fields: Record<string, string>): Promise<{ status: number; text: string }> {
  const form = new FormData();
  form.append('model', 'whisper-1');
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([new Uint8Array(long)]), 'jobs_dots.flac');
  const res = await fetch(`${server.url}/v1/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: form });
  return { status: res.status, text: ((await res.json()) as { text?: string }).text ?? '' };
}

describe('OpenAI route with engine.windowBatch', () => {
  it('a long file with its language named: its windows in one engine request, the whole text back', async () => {
    groups.length = 0;
    const r = await transcribe({ language: 'en' });
    assert.equal(r.status, 200);
    assert.deepEqual(groups, [2]);
    assert.match(r.text.toLowerCase(), /connect the dots looking forward/);
    assert.match(r.text.toLowerCase(), /trust in something/);
  });

  it('without a language: the first window identifies it, so the windows go one at a time', async () => {
    groups.length = 0;
    const r = await transcribe({});
    assert.equal(r.status, 200);
    // (WhisperEngine.transcribe is transcribeMany of one piece.)
    assert.deepEqual(groups, [1, 1]);
    assert.match(r.text.toLowerCase(), /trust in something/);
  });
});
