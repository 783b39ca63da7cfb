/**
 * The real server for the OpenAI SDK tests: `src/main.ts` as a child process, as users run it,
 * over a models folder of links to the shared models plus `whisper-base-b`, a second name for
 * whisper-base (an installed model the requests may name besides the default, which loads its
 * own engine), and a small `openai.maxBytes` so that the size limit is cheap to cross.
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startServer, type ServerHandle } from '../../../bench/lib/server-process.js';
import { modelsDir } from '../../helpers/media-fixtures.js';

export const KEY = 'openai-sdk-test-secret';
/** openai.maxBytes of the stage: above every clip the tests send. */
export const MAX_BYTES = 2_000_000;
/** The installed model besides the default one. */
export const OTHER_MODEL = 'whisper-base-b';

export interface OpenAIStage {
  server: ServerHandle;
  /** e.g. http://127.0.0.1:41234/v1, the SDKs' baseURL */
  baseURL: string;
  close(): Promise<void>;
}

export async function startOpenAIStage(name: string, env: Record<string, string> = {}): Promise<OpenAIStage> {
  const models = mkdtempSync(join(tmpdir(), 'sori-openai-models-'));
  for (const model of ['whisper-base', 'silero-vad']) symlinkSync(join(modelsDir(), model), join(models, model));
  symlinkSync(join(modelsDir(), 'whisper-base'), join(models, OTHER_MODEL));
  const server = await startServer({
    apiKey: KEY,
    modelsDir: models,
    env: {
      SORI_GRPC_PORT: String(await freePort()),
      SORI_BEAM_SIZE: '1',
      SORI_THREADS: '2',
      SORI_OPENAI_MAX_BYTES: String(MAX_BYTES),
      ...env,
    },
    logPath: join(tmpdir(), `sori-${name}-${process.pid}.log`),
  });
  return {
    server,
    baseURL: `${server.baseUrl}/v1`,
    close: async () => {
      await server.stop();
      rmSync(models, { recursive: true, force: true });
    },
  };
}
