/**
 * Assembles the HTTP server from its routes. No listening and no process concerns here, so
 * tests build the same server main() runs.
 */
import type { IncomingMessage, Server as NodeServer } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { adminBoostingsRoutes } from './api/admin/boostings.js';
import { clovaLongformRoutes } from './api/clova/longform.js';
import { DomainBoostings } from './domains/boostings.js';
import { clovaShortRoutes } from './api/clova/short.js';
import { consoleRoutes } from './api/console.js';
import { limitConnections } from './api/connection-limits.js';
import { DomainRequestLimits } from './domains/request-limits.js';
import { openaiRoutes } from './api/openai/routes.js';
import { healthRoutes, watchEngine } from './api/health.js';
import { createMetrics, metricsRoutes } from './api/metrics.js';
import { schemasAreDocumentationOnly } from './api/docs/documentation-only.js';
import { registerApiDocs } from './api/docs/openapi.js';
import type { Config } from './config.js';
import { configuredAuthGate, type AuthGate } from './domains/auth.js';
import type { JobSystem } from './jobs/index.js';
import type { Logger } from './logger.js';
import type { SpeechEngine } from './speech/engine.js';
import { ModelEngines } from './speech/model-engines.js';
import { sharedVadLoader, type SileroVad } from './speech/vad/silero.js';
import type { StreamSlotPool } from './stream/stream-slots.js';
import { streamWebSocketRoutes } from './stream/websocket.js';

export interface ServerDeps {
  config: Config;
  engine: SpeechEngine;
  logger: Logger;
  /** Long-form recognition; without it the /recognizer routes are not mounted. */
  jobs?: JobSystem;
  /** Real-time streaming over WebSocket; without it the route is not mounted. */
  streaming?: { vad: () => Promise<SileroVad>; slots: StreamSlotPool; finalBeamSize?: number };
  /** Domains' registered boosting keywords; default: the config file's, admin changes in memory only. */
  boostings?: DomainBoostings;
  /** Secrets and the per-client throttle; default: one from the config. main.ts shares one with gRPC. */
  auth?: AuthGate;
  /** Engines by model name for the OpenAI routes' `model`; default: `engine` (models.asr) only. */
  models?: ModelEngines;
  /** Silero VAD for the OpenAI routes' long files; default: streaming's, else one loaded on first use. */
  vad?: () => Promise<SileroVad>;
}

/** The WebSocket route takes its secret as `?key=` (browsers cannot send headers): never log it. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]key=)[^&]*/gi, '$1[redacted]');
}

export async function buildServer({
  config, engine, logger, jobs, streaming, boostings: given, auth: givenAuth, models, vad,
}: ServerDeps): Promise<FastifyInstance> {
  const boostings = given ?? (await DomainBoostings.open(config.domains, undefined));
  // One gate for every route: failures on one count on the others.
  const auth = givenAuth ?? configuredAuthGate(config, logger);
  // Seen as fastify's base logger type: pino's richer one makes FastifyInstance generic over it.
  const loggerInstance: FastifyBaseLogger = logger;
  const { http } = config;
  const headersTimeout = http.headersTimeoutSeconds * 1000;
  const requestTimeout = http.requestTimeoutSeconds * 1000;
  const app = Fastify({
    loggerInstance,
    // Fastify's default is two lines per request; one line at the end (below) says everything.
    logController: new LogController({ disableRequestLogging: true }),
    // A path parameter (a job token) of any length reaches its route, which answers the CLOVA
    // error for it; the default (100) made the router answer its own 414. Node's 16 KiB limit
    // on the request head still bounds it.
    routerOptions: { maxParamLength: 16_384 },
    // Slow clients: headers, then the whole request, must arrive in time (408 and closed), and
    // idle keep-alive connections close. Node checks the first two every connectionsCheckingInterval.
    keepAliveTimeout: http.keepAliveTimeoutSeconds * 1000,
    requestTimeout,
    http: {
      headersTimeout,
      requestTimeout,
      connectionsCheckingInterval: Math.min(5000, Math.max(250, Math.round(headersTimeout / 4))),
    },
  });
  // Before any route: route schemas describe the API (OpenAPI), the routes validate with zod.
  schemasAreDocumentationOnly(app);
  const metrics = createMetrics(engine, jobs?.store, auth);
  onlyWebSocketUpgrades(app.server);
  const connections = limitConnections(app.server, {
    maxPerAddress: http.maxConnectionsPerAddress,
    minBodyBytesPerSecond: http.minBodyBytesPerSecond,
    bodyRateWindowMs: http.bodyRateWindowSeconds * 1000,
    onClose: (reason, address) => {
      metrics.connectionClosed(reason);
      logger.debug({ reason, address }, 'connection closed by a limit');
    },
  });
  app.server.on('clientError', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') metrics.connectionClosed('timeout');
  });
  app.addHook('onClose', async () => connections.stop());
  // One request rate per domain for the short and long-form routes together.
  const requestLimits = new DomainRequestLimits();

  // With request logging off, fastify's default handler no longer logs failures: we do, then
  // let it answer. The CLOVA route has its own handler and body shape.
  app.setErrorHandler((err: FastifyError, request, reply) => {
    // No route serves this method and path: the answer is 404 whatever the body was (fastify
    // parses it first, so a broken JSON body to an unknown path answered 400; found by the fuzzer).
    if (request.is404) return reply.code(404).send({ message: `Route ${request.method}:${request.url} not found`, error: 'Not Found', statusCode: 404 });
    if ((err.statusCode ?? 500) >= 500) request.log.error({ err }, 'request failed');
    return reply.send(err);
  });

  app.addHook('onResponse', async (request, reply) => {
    metrics.observe(request, reply);
    request.log.info(
      { method: request.method, url: redactUrl(request.url), statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request done',
    );
  });
  // A client that hangs up before its answer gets none, so onResponse never runs for it.
  // (fastify's onRequestAbort only covers hang-ups during the upload.)
  app.addHook('onRequest', async (request, reply) => {
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) metrics.observeAbort(request);
    });
  });

  // Before the routes it documents: it collects them as they are added.
  if (config.server.docs) await registerApiDocs(app);
  const pingStore = jobs?.store.ping?.bind(jobs.store);
  await app.register(healthRoutes, { engineState: watchEngine(engine), pingStore });
  await app.register(metricsRoutes, { registry: metrics.registry });
  await app.register(clovaShortRoutes, { engine, domains: config.domains, auth, requestLimits, media: config.media });
  await app.register(adminBoostingsRoutes, { auth, boostings });
  await app.register(openaiRoutes, {
    prefix: '/v1',
    auth,
    models: models ?? new ModelEngines({ defaultModel: config.models.asr, defaultEngine: engine, modelsDir: config.models.dir, maxOthers: 0 }),
    vad: vad ?? streaming?.vad ?? sharedVadLoader(config.models.dir),
    config,
  });
  if (config.server.console) await app.register(consoleRoutes);
  if (streaming !== undefined) {
    await app.register(streamWebSocketRoutes, { auth, engine, boostings, ...streaming });
  }
  if (jobs !== undefined) {
    await app.register(clovaLongformRoutes, {
      auth,
      store: jobs.store,
      queue: jobs.queue,
      runner: jobs.runner,
      config,
      objectStorageConfigured: jobs.objectStorage !== undefined,
      media: jobs.media,
      endedPollMs: jobs.endedPollMs,
      boostings,
      requestLimits,
    });
  }
  return app;
}

/**
 * Java's default HttpClient (and curl --http2) sends plain-HTTP requests with `Upgrade: h2c`;
 * a server without HTTP/2 must answer them as HTTP/1.1 (RFC 9113, 3.2). Node hands every
 * request with an Upgrade header to the 'upgrade' listeners once the WebSocket route adds one,
 * and the request's body was lost there. Only WebSocket upgrades go that way now
 * (`shouldUpgradeCallback`, read per request by Node 22.21 and newer).
 */
function onlyWebSocketUpgrades(server: NodeServer): void {
  const upgradable = server as NodeServer & { shouldUpgradeCallback?: (request: IncomingMessage) => boolean };
  upgradable.shouldUpgradeCallback = (request) => /\bwebsocket\b/i.test(request.headers.upgrade ?? '') && server.listenerCount('upgrade') > 0;
}

