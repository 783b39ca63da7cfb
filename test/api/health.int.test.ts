import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createEngine } from '../../src/speech/index.js';
import { startPostgres } from '../helpers/postgres.js';
import { startServer, testConfig, testDomain, testEngine } from '../helpers/server.js';

const domains = [testDomain('general', 'health-test-secret')];
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function getHealth(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/healthz`);
  return { status: res.status, body: await res.json() };
}

describe('GET /healthz', () => {
  it('is 503 "loading" until the engine is ready, then 200 with the model version', async () => {
    const engine = testEngine();
    cleanups.push(() => engine.close());
    // The server comes up before the models finish loading, as in main().
    const server = await startServer(engine, domains);
    cleanups.push(() => server.close());

    assert.deepEqual(await getHealth(server.url), { status: 503, body: { status: 'loading' } });
    await engine.ready();
    const ready = await getHealth(server.url);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ok', model: engine.version });
    assert.ok(engine.version.length > 0);
  });

  it('is 503 "error" with the reason when the models cannot be loaded', async () => {
    // Real broken model files: present where expected, but not ONNX.
    const models = await mkdtemp(path.join(os.tmpdir(), 'sori-broken-models-'));
    cleanups.push(() => rm(models, { recursive: true, force: true }));
    await mkdir(path.join(models, 'whisper-base', 'onnx'), { recursive: true });
    for (const file of ['encoder_model_quantized.onnx', 'decoder_model_merged_quantized.onnx']) {
      await writeFile(path.join(models, 'whisper-base', 'onnx', file), 'not a model');
    }
    const engine = createEngine({ modelsDir: models, model: 'whisper-base', threads: 1, parallel: 1, queueLimit: 1, beamSize: 1 });
    cleanups.push(() => engine.close());
    const server = await startServer(engine, domains);
    cleanups.push(() => server.close());

    await assert.rejects(engine.ready());
    const health = await getHealth(server.url);
    assert.equal(health.status, 503);
    const body = health.body as { status: string; message: unknown };
    assert.equal(body.status, 'error');
    assert.equal(typeof body.message, 'string');
    assert.ok((body.message as string).length > 0);
  });

  it('with a PostgreSQL job store: 503 with the reason while PostgreSQL is stopped, 200 again once it is back', { timeout: 180_000 }, async () => {
    const postgres = await startPostgres();
    cleanups.push(() => postgres.close());
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sori-health-pg-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const engine = testEngine();
    cleanups.push(() => engine.close());
    const config = testConfig(domains);
    config.dataDir = dataDir;
    config.database = { ...config.database, url: await postgres.createDatabase('health'), poolSize: 2 };
    const server = await startServer(engine, [], { jobsConfig: config });
    cleanups.push(() => server.close());
    await engine.ready();
    assert.deepEqual(await getHealth(server.url), { status: 200, body: { status: 'ok', model: engine.version } });

    await postgres.stop('fast');
    const down = await getHealth(server.url);
    assert.equal(down.status, 503);
    const body = down.body as { status: string; message: string; store: string };
    assert.equal(body.status, 'error');
    assert.equal(body.store, 'unavailable');
    assert.match(body.message, /^job store unavailable: PostgreSQL at 127\.0\.0\.1:\d+\/health: /);
    assert.ok(!body.message.includes(new URL(config.database.url!).password), 'no password in the body');

    await postgres.start();
    let back = await getHealth(server.url);
    // The pool opens a new connection on the next query; a probe in flight during the restart may still fail.
    for (let i = 0; i < 40 && back.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      back = await getHealth(server.url);
    }
    assert.deepEqual(back, { status: 200, body: { status: 'ok', model: engine.version } });
  });
});
