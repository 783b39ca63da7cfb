/**
 * Seeded samples of the hardening fuzzers (bench/hardening.ts runs thousands per surface):
 * the real server as a child process, as users run it; every case must get a documented
 * answer, and the server must still be alive, healthy and without an error line in its log
 * after each surface. A failure prints
 * fast-check's seed and the shrunk case; replay it with the same seed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import fc from 'fast-check';
import { startServer, freePort, type ServerHandle } from '../../bench/lib/server-process.js';
import { modelsDir } from '../../bench/lib/paths.js';
import { fuzzClip } from '../../bench/lib/fuzz/clip.js';
import { documentedProperty, serverErrorsSince, type FuzzTarget, type Surface } from '../../bench/lib/fuzz/harness.js';
import { hardeningSurfaces } from '../../bench/lib/fuzz/surfaces/index.js';

const SEED = 20261206;
const KEY = 'fuzz-test-key';
let server: ServerHandle;
let target: FuzzTarget;
let surfaces: Record<string, () => Surface>;

before(async () => {
  const grpcPort = await freePort();
  server = await startServer({ apiKey: KEY, modelsDir: modelsDir(), env: { SORI_GRPC_PORT: String(grpcPort), SORI_BEAM_SIZE: '1', SORI_AUTH_MAX_FAILURES: '0' }, logPath: join(tmpdir(), `sori-fuzz-test-${process.pid}.log`) });
  const clip = fuzzClip();
  target = { host: '127.0.0.1', port: server.port, baseUrl: server.baseUrl, grpcPort, key: KEY, clip };
  surfaces = hardeningSurfaces(clip);
});
after(async () => {
  await server?.stop();
});

async function sample(name: string, numRuns: number): Promise<void> {
  const surface = surfaces[name]();
  const logFrom = statSync(server.logPath).size;
  await fc.assert(
    documentedProperty(surface, target),
    { seed: SEED, numRuns, endOnFailure: true },
  );
  assert.equal(server.child.exitCode, null, 'the server exited');
  assert.deepEqual(serverErrorsSince(server.logPath, logFrom), [], 'the server logged errors');
  const health = await fetch(`${server.baseUrl}/healthz`);
  assert.equal(health.status, 200);
}

describe('fuzzed input gets documented answers (seeded sample)', () => {
  it('short recognition: query, headers, bodies, HTTP framing', () => sample('short', 150));
  it('long-form: multipart, JSON routes, token lookups', () => sample('longform', 150));
  it('admin boostings', () => sample('admin', 100));
  it('OpenAI API: forms, multipart, lookups, secrets', () => sample('openai', 150));
  it('media decoding: every format mangled, lying headers, hours in a tiny file', () => sample('media', 40));
});
