/**
 * GET /healthz: answers as soon as the server listens, and reports the engine's state, so
 * orchestrators can tell "still loading models" (503) from "broken" (503 + message) and "ok".
 * With a job store on another machine (PostgreSQL, cluster mode) it also asks the store for one
 * round trip: a node that cannot reach it cannot accept jobs, count streams or change boostings,
 * so it answers 503 and a load balancer takes it out until the store is back.
 */
import type { FastifyInstance } from 'fastify';
import type { SpeechEngine } from '../speech/engine.js';
import { jsonResponse, NO_SECRET, TAGS } from './docs/common.js';
import { schemasAreDocumentationOnly } from './docs/documentation-only.js';

export type EngineState =
  | { status: 'loading' }
  | { status: 'ok'; model: string }
  | { status: 'error'; message: string };

/** The store's answer must come within this, else the node counts as cut off from it. */
export const STORE_PING_TIMEOUT_MS = 2000;

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
    { type: 'object', required: ['status', 'message'], properties: { status: { const: 'error' }, message: { type: 'string' }, store: { const: 'unavailable' } } },
  ],
};

const healthSchema = {
  summary: "The engine's state",
  description: 'Answers as soon as the server listens: 200 once the model is loaded, 503 while it loads or if it failed to, or while a PostgreSQL job store cannot be reached (`store: "unavailable"`).',
  operationId: 'getHealth',
  tags: [TAGS.operations],
  security: NO_SECRET,
  response: {
    200: jsonResponse('The model is loaded.', stateSchema),
    503: jsonResponse('Still loading, failed (with its message), or the job store is unreachable.', stateSchema),
  },
};

export interface HealthOptions {
  engineState: () => EngineState;
  /** A remote job store's round trip (JobStore.ping); absent for SQLite. */
  pingStore?: () => Promise<void>;
}

/** Resolves undefined when the store answered in time, else the reason it did not. */
async function storeProblem(ping: () => Promise<void>): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`job store unavailable: no answer within ${STORE_PING_TIMEOUT_MS} ms`), STORE_PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([ping().then(() => undefined, (err: unknown) => (err instanceof Error ? err.message : String(err))), late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function healthRoutes(app: FastifyInstance, opts: HealthOptions): Promise<void> {
  // This plugin's schemas describe its routes (OpenAPI); it checks its input itself, wherever it is mounted.
  schemasAreDocumentationOnly(app);
  app.get('/healthz', { schema: healthSchema }, async (request, reply) => {
    const state = opts.engineState();
    if (state.status !== 'ok' || opts.pingStore === undefined) return reply.code(state.status === 'ok' ? 200 : 503).send(state);
    const problem = await storeProblem(opts.pingStore);
    if (problem === undefined) return reply.code(200).send(state);
    request.log.warn({ reason: problem }, 'healthz: the job store cannot be reached');
    return reply.code(503).send({ status: 'error', message: problem, store: 'unavailable' });
  });
}
