/**
 * GET /healthz: answers as soon as the server listens, and reports the engine's state, so
 * orchestrators can tell "still loading models" (503) from "broken" (503 + message) and "ok".
 */
import type { FastifyInstance } from 'fastify';
import type { SpeechEngine } from '../speech/engine.js';
import { jsonResponse, NO_SECRET, TAGS } from './docs/common.js';
import { schemasAreDocumentationOnly } from './docs/documentation-only.js';

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

const stateSchema = {
  oneOf: [
    { type: 'object', required: ['status'], properties: { status: { const: 'loading' } } },
    { type: 'object', required: ['status', 'model'], properties: { status: { const: 'ok' }, model: { type: 'string' } } },
    { type: 'object', required: ['status', 'message'], properties: { status: { const: 'error' }, message: { type: 'string' } } },
  ],
};

const healthSchema = {
  summary: "The engine's state",
  description: 'Answers as soon as the server listens: 200 once the model is loaded, 503 while it loads or if it failed to.',
  operationId: 'getHealth',
  tags: [TAGS.operations],
  security: NO_SECRET,
  response: {
    200: jsonResponse('The model is loaded.', stateSchema),
    503: jsonResponse('Still loading, or failed (with its message).', stateSchema),
  },
};

export async function healthRoutes(app: FastifyInstance, opts: { engineState: () => EngineState }): Promise<void> {
  // This plugin's schemas describe its routes (OpenAPI); it checks its input itself, wherever it is mounted.
  schemasAreDocumentationOnly(app);
  app.get('/healthz', { schema: healthSchema }, async (_request, reply) => {
    const state = opts.engineState();
    return reply.code(state.status === 'ok' ? 200 : 503).send(state);
  });
}
