/**
 * A seeded sample of the gRPC fuzzer (bench/lib/fuzz/surfaces/grpc.ts) against the real server
 * process: every hostile client gets a documented status, and afterwards the server is alive,
 * healthy, has logged no error, and has every stream slot back. A failure shrinks to a small
 * case and prints the seed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { configMessage, grpcSurface, NEST_METHOD } from '../../bench/lib/fuzz/surfaces/grpc.js';
import { documentedProperty } from '../../bench/lib/fuzz/harness.js';
import { eventually, STREAM_LIMIT, startStreamFuzzServer, type StreamFuzzServer } from '../helpers/stream-fuzz-target.js';

const SEED = 18_0002;
const RUNS = 150;
let fuzz: StreamFuzzServer;

before(async () => {
  fuzz = await startStreamFuzzServer();
});
after(async () => {
  await fuzz?.stop();
});

/** `count` calls at once with the valid secret: true when each one's config is acknowledged and it ends OK. */
async function allAcknowledged(count: number): Promise<boolean> {
  const client = new grpc.Client(`127.0.0.1:${fuzz.target.grpcPort}`, grpc.credentials.createInsecure());
  const one = (): Promise<boolean> =>
    new Promise((resolve) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${fuzz.target.key}`);
      const call = client.makeBidiStreamRequest<Buffer, Buffer>(NEST_METHOD, (b) => b, (b) => b, md);
      let acked = false;
      call.on('data', (b: Buffer) => {
        if (!acked && b.includes('"responseType":["config"]')) {
          acked = true;
          // Hold the slot until every call had its chance.
          setTimeout(() => call.end(), 500);
        }
      });
      call.on('error', () => undefined);
      call.on('status', (s: grpc.StatusObject) => resolve(acked && s.code === grpc.status.OK));
      call.write(configMessage('{"transcription":{"language":"ko"}}'));
    });
  try {
    return (await Promise.all(Array.from({ length: count }, one))).every(Boolean);
  } finally {
    client.close();
  }
}

describe('gRPC NestService under hostile clients (seeded fuzz sample)', () => {
  it(`${RUNS} cases (seed ${SEED}) each get a documented status`, { timeout: 180_000 }, async () => {
    await fc.assert(
      documentedProperty(grpcSurface, fuzz.target),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('afterwards the server is alive and healthy, logged no error, and every stream slot is free', async () => {
    assert.ok(fuzz.alive(), 'the server process is alive');
    assert.equal(await fuzz.healthz(), 200);
    assert.deepEqual(fuzz.errorLines(), []);
    assert.ok(await eventually(() => allAcknowledged(STREAM_LIMIT)), `${STREAM_LIMIT} calls at once are all acknowledged`);
  });
});
