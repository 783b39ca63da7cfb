/**
 * The real server as a child process (as users run it: `node src/main.ts`, HTTP and gRPC) for the
 * streaming fuzz samples, with a FuzzTarget pointing at it and the checks every sample ends
 * with: the process alive, /healthz answering, no error in its log, every stream slot back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFile } from '../../src/media/decode.js';
import { serverErrorsSince, type FuzzTarget } from '../../bench/lib/fuzz/harness.js';
import { freePort, startServer, type ServerHandle } from '../../bench/lib/server-process.js';
import { modelsDir, testdataDir } from './media-fixtures.js';
import { PCM16_MONO_16K, pcm16Bytes, wavFile } from '../../bench/lib/wav.js';

/** Streams a domain may have open at once (the default of `limits.maxConcurrentStreams`). */
export const STREAM_LIMIT = 15;

export interface StreamFuzzServer {
  target: FuzzTarget;
  server: ServerHandle;
  alive(): boolean;
  /** /healthz's status code, or 0 when nothing answered. */
  healthz(): Promise<number>;
  /** Log lines at level error (50) or fatal (60). */
  errorLines(): string[];
  stop(): Promise<void>;
}

export async function startStreamFuzzServer(): Promise<StreamFuzzServer> {
  // Korean speech: the domain's language, and two-byte text for masking and correction.
  const pcm = (await decodeFile(join(testdataDir(), 'ko/etts_ada00002.flac'))).pcm.subarray(0, 16_000 * 4);
  const dir = mkdtempSync(join(tmpdir(), 'sori-stream-fuzz-'));
  const logPath = join(dir, 'server.log');
  const key = 'stream-fuzz-secret';
  const grpcPort = await freePort();
  const server = await startServer({
    apiKey: key,
    modelsDir: modelsDir(),
    logPath,
    // Wrong-secret throttling off: the cases' wrong keys would otherwise block this address
    // and every later case would test the throttle (tested in test/domains/auth.int.test.ts).
    env: {
      SORI_HOST: '127.0.0.1', SORI_GRPC_PORT: String(grpcPort), SORI_THREADS: '2', SORI_BEAM_SIZE: '1', SORI_STREAM_BEAM_SIZE: '1', SORI_LOG_LEVEL: 'info',
      SORI_AUTH_MAX_FAILURES: '0',
    },
  });
  return {
    target: { host: '127.0.0.1', port: server.port, baseUrl: server.baseUrl, grpcPort, key, clip: wavFile(PCM16_MONO_16K, pcm16Bytes(pcm)) },
    server,
    alive: () => server.child.exitCode === null && server.child.signalCode === null,
    healthz: () => fetch(`${server.baseUrl}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 0),
    errorLines: () => serverErrorsSince(logPath, 0),
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Tries `attempt` until it holds or `ms` pass (a closed stream frees its slot a moment later). */
export async function eventually(attempt: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await attempt()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}
