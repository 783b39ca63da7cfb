/**
 * `jobs.queueLimit` in cluster mode counts the jobs of every node: two real servers on one
 * PostgreSQL, a limit of 1; a job accepted by node 1 makes node 2 refuse the next one (429
 * ERROR_TOO_MANY_JOBS, async; 503 ERROR_SERVER_BUSY, sync), and node 2 accepts again once that
 * job is finished, wherever it ran.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SpeechEngine } from '../../../src/speech/engine.js';
import { answer, type Answer } from '../../helpers/answer.js';
import { testdataDir } from '../../helpers/media-fixtures.js';
import { startPostgres, type PostgresServer } from '../../helpers/postgres.js';
import { startNodesOnDatabase, testEngine, type TestServer } from '../../helpers/server.js';

const KEY = 'queue-limit-cluster-secret';
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let postgres: PostgresServer;
let engine: SpeechEngine;
let nodes: TestServer[] = [];
let stopNodes: (() => Promise<void>) | undefined;

before(async () => {
  postgres = await startPostgres();
  const url = await postgres.createDatabase('queue_limit');
  engine = testEngine();
  const started = await startNodesOnDatabase(engine, { url, key: KEY, count: 2, name: 'queue-limit', tweak: (config) => { config.jobs.queueLimit = 1; } });
  ({ nodes, close: stopNodes } = started);
});

after(async () => {
  await stopNodes?.();
  await engine?.close();
  await postgres?.close();
});

async function upload(node: TestServer, clip: string, completion: 'sync' | 'async'): Promise<Answer> {
  const form = new FormData();
  form.append('media', new Blob([await readFile(join(testdataDir(), clip))]), clip.split('/').pop());
  form.append('params', JSON.stringify({ language: 'en-US', completion }));
  return fetch(`${node.url}/recognizer/upload`, { method: 'POST', headers: { 'X-CLOVASPEECH-API-KEY': KEY }, body: form }).then(answer);
}

describe('jobs.queueLimit across two nodes on one PostgreSQL', () => {
  it("a job on node 1 fills node 2's queue; node 2 accepts again once it is finished", { timeout: 300_000 }, async () => {
    const [one, two] = nodes;
    const first = await upload(one, 'en/jfk.flac', 'async');
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const token = String((first.body as { token: string }).token);

    const refused = await upload(two, 'en/jfk.flac', 'async');
    assert.equal(refused.status, 429, JSON.stringify(refused.body));
    assert.equal((refused.body as { result: string }).result, 'ERROR_TOO_MANY_JOBS');
    const busy = await upload(two, 'en/jfk.flac', 'sync');
    assert.equal(busy.status, 503, JSON.stringify(busy.body));
    assert.equal((busy.body as { result: string }).result, 'ERROR_SERVER_BUSY');

    let state = '';
    for (let i = 0; i < 1200 && state !== 'COMPLETED'; i++) {
      await pause(250);
      const status = await fetch(`${two.url}/recognizer/${token}`, { headers: { 'X-CLOVASPEECH-API-KEY': KEY } }).then(answer);
      state = String((status.body as { result: string }).result);
    }
    assert.equal(state, 'COMPLETED');
    const again = await upload(two, 'en/jfk.flac', 'sync');
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.match(String((again.body as { text: string }).text), /ask not what your country can do for you/i);
  });
});
