/**
 * A seeded sample of the WebSocket fuzzer (bench/lib/fuzz/surfaces/websocket.ts) against the
 * real server process: every hostile client gets a documented answer (a close code the route
 * documents, or a normal finish), and afterwards the server is alive, healthy, has logged no
 * error, and has every stream slot back. A failure shrinks to a small case and prints the seed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import WebSocket from 'ws';
import { websocketSurface, WS_PATH } from '../../bench/lib/fuzz/surfaces/websocket.js';
import { documentedProperty } from '../../bench/lib/fuzz/harness.js';
import { eventually, STREAM_LIMIT, startStreamFuzzServer, type StreamFuzzServer } from '../helpers/stream-fuzz-target.js';

const SEED = 18_0001;
const RUNS = 150;
let fuzz: StreamFuzzServer;

before(async () => {
  fuzz = await startStreamFuzzServer();
});
after(async () => {
  await fuzz?.stop();
});

/** `count` streams at once with the valid key: true when each one's config is acknowledged. */
async function allAcknowledged(count: number): Promise<boolean> {
  const { host, port, key } = fuzz.target;
  const one = (): Promise<boolean> =>
    new Promise((resolve) => {
      const ws = new WebSocket(`ws://${host}:${port}${WS_PATH}?key=${key}`);
      let acked = false;
      ws.on('error', () => resolve(false));
      ws.on('open', () => ws.send('{"transcription":{"language":"ko"}}'));
      ws.on('message', (d) => {
        if (!acked && String(d).includes('"responseType":["config"]')) {
          acked = true;
          // Hold the slot until every stream had its chance.
          setTimeout(() => ws.send('{"end":true}'), 500);
        }
      });
      ws.on('close', () => resolve(acked));
    });
  return (await Promise.all(Array.from({ length: count }, one))).every(Boolean);
}

describe('WebSocket streaming under hostile clients (seeded fuzz sample)', () => {
  it(`${RUNS} cases (seed ${SEED}) each get a documented answer`, { timeout: 180_000 }, async () => {
    await fc.assert(
      documentedProperty(websocketSurface, fuzz.target),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('afterwards the server is alive and healthy, logged no error, and every stream slot is free', async () => {
    assert.ok(fuzz.alive(), 'the server process is alive');
    assert.equal(await fuzz.healthz(), 200);
    assert.deepEqual(fuzz.errorLines(), []);
    assert.ok(await eventually(() => allAcknowledged(STREAM_LIMIT)), `${STREAM_LIMIT} streams at once are all acknowledged`);
  });
});
