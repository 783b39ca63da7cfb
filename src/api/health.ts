/**
 * GET /healthz: answers as soon as the server listens, and reports the engine's state, so
 * orchestrators can tell "still loading models" (503) from "broken" (503 + message) and "ok".
 */
import type { FastifyInstance } from 'fastify';
import type { SpeechEngine } from '../speech/engine.js';

export type EngineState =
  | { status: 'loading' }
  | { status: 'ok'; model: string }
  | { status: 'error'; message: string };

/** Follows engine.ready() once; reading the state never waits. */
export function watchEngine(engine: SpeechEngine): () => EngineState {
  let state: EngineState = { status: 'loading' };
  engine.ready().then(
    () => {
      state = { status: 'ok', model: engine.version };
    },
    (err: unknown) => {
      state = { status: 'error', message: err instanceof Error ? err.message : String(err) };
    },
  );
  return () => state;
}

export async function healthRoutes(app: FastifyInstance, opts: { engineState: () => EngineState }): Promise<void> {
  app.get('/healthz', async (_request, reply) => {
    const state = opts.engineState();
    return reply.code(state.status === 'ok' ? 200 : 503).send(state);
  });
}
