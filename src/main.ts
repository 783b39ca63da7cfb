/**
 * Process entry: config -> logger -> engine -> server -> listen. The server listens before
 * the models finish loading, so /healthz can say "loading" instead of refusing connections.
 */
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createJobSystem } from './jobs/index.js';
import { sharedVadLoader } from './speech/vad/silero.js';
import { startGrpcServer, type GrpcServerHandle } from './stream/grpc.js';
import { streamSlotsFor } from './stream/postgres-stream-slots.js';
import { buildServer } from './server.js';
import { openDomainBoostings } from './jobs/postgres-boostings.js';
import { newOwnerId } from './jobs/owner.js';
import { configuredAuthGate } from './domains/auth.js';
import { createEngine } from './speech/index.js';
import { memoryLimitEnforceable } from './media/decode.js';
import { removeOrphanedMediaTempDirs } from './media/temp-files.js';
import { ModelEngines } from './speech/model-engines.js';

export async function main(): Promise<void> {
  const config = await loadConfig();
  const logger = createLogger({ level: config.logLevel });
  // Inference processes restarting or doing without something: one structured line each.
  const engineLog = (message: string): void => logger.warn({ component: 'engine' }, message);
  const engine = createEngine({
    modelsDir: config.models.dir,
    model: config.models.asr,
    threads: config.engine.threads,
    parallel: config.engine.parallel,
    batch: config.engine.batch,
    windowBatch: config.engine.windowBatch,
    queueLimit: config.engine.queueLimit,
    beamSize: config.engine.beamSize,
    referenceCacheSize: config.engine.referenceCacheSize,
    shortRequestContext: config.engine.shortRequestContext === 'audio',
    modelCacheDir: join(config.dataDir, 'model-cache'),
    onLog: engineLog,
  });
  // Other installed models an OpenAI request may name: loaded on first use, one recognition at a time each.
  const models = new ModelEngines({
    defaultModel: config.models.asr,
    defaultEngine: engine,
    modelsDir: config.models.dir,
    maxOthers: config.openai.otherModels,
    create: (model) => {
      logger.info({ model }, 'loading another model for the OpenAI API');
      return createEngine({
        modelsDir: config.models.dir, model, threads: config.engine.threads, parallel: 1,
        queueLimit: config.engine.queueLimit, beamSize: config.engine.beamSize, referenceCacheSize: config.engine.referenceCacheSize,
        modelCacheDir: join(config.dataDir, 'model-cache'),
        onLog: engineLog,
      });
    },
  });
  // One VAD model for jobs and streams; one per-domain stream count for gRPC and WebSocket alike.
  const loadVad = sharedVadLoader(config.models.dir);
  const jobs = createJobSystem(config, engine, logger, loadVad);
  // With PostgreSQL, streams are counted in it, so a domain's limit holds across the cluster.
  const slots = streamSlotsFor(jobs.store, {
    owner: newOwnerId(), leaseMs: config.jobs.leaseSeconds * 1000, logger: logger.child({ component: 'stream-slots' }),
  });
  // Registered boosting keywords: one store for every route, admin changes kept in the data dir
  // (one node) or in PostgreSQL, which every node reloads each second.
  let refreshWarnedAt = 0;
  const boostings = await openDomainBoostings(config.domains, jobs.store, config.dataDir, {
    onRefreshError: (err) => {
      // Once a minute at most: the reload is tried every second while PostgreSQL is away.
      if (Date.now() - refreshWarnedAt < 60_000) return;
      refreshWarnedAt = Date.now();
      logger.warn({ err }, 'registered boostings: could not reload the shared sets; the last ones loaded stay in use');
    },
  });
  // Secrets and the throttle of failed authentications: one gate for HTTP, WebSocket and gRPC.
  const auth = configuredAuthGate(config, logger);
  const app = await buildServer({
    config, engine, logger, jobs, boostings, auth, models, vad: loadVad, streaming: { vad: loadVad, slots, finalBeamSize: config.engine.streamBeamSize },
  });

  let grpcServer: GrpcServerHandle | undefined;
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn({ signal }, 'second signal; exiting without waiting');
      process.exit(1);
    }
    closing = true;
    logger.info({ signal }, 'shutting down: finishing requests in flight');
    // Close the server first so in-flight requests still have an engine to finish on.
    jobs.runner.events.emit('closing');
    Promise.resolve(grpcServer?.close())
      .then(() => app.close())
      .then(() => slots.close())
      .then(() => boostings.close())
      .then(() => jobs.close())
      .then(() => loadVad.close())
      .then(() => models.close())
      .then(() => engine.close())
      .then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'error while shutting down');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);

  try {
    await app.listen({ host: config.server.host, port: config.server.port });
  } catch (err) {
    // e.g. the port is taken: stop the inference workers so the process can end.
    await jobs.close();
    await loadVad.close();
    await models.close();
    await engine.close();
    throw err;
  }
  // Jobs left unfinished by a previous process resume now; they wait for the engine like any job.
  await jobs.start();
  await slots.start();
  // And the temp files of requests it was decoding when it died go (media/temp-files.ts).
  removeOrphanedMediaTempDirs().then(
    (removed) => {
      if (removed.length > 0) logger.info({ dirs: removed.length }, 'removed temp files left by processes that no longer run');
    },
    (err: unknown) => logger.warn({ err }, 'could not clean up temp files left by earlier processes'),
  );

  grpcServer = await startGrpcServer({
    host: config.server.host,
    port: config.server.grpcPort,
    auth,
    engine,
    vad: loadVad,
    slots,
    logger,
    tls: config.server.grpcTls,
    finalBeamSize: config.engine.streamBeamSize,
    boostings,
  });
  logger.info({ port: grpcServer.port, tls: config.server.grpcTls !== undefined }, 'gRPC streaming listening');
  const address = app.server.address();
  logger.info(
    {
      host: config.server.host,
      port: typeof address === 'object' && address !== null ? address.port : config.server.port,
      model: config.models.asr,
      modelsDir: config.models.dir,
      domains: config.domains.map((d) => d.name),
      configFile: config.configFile,
    },
    'sori listening',
  );

  if (config.media.memoryLimitMb > 0 && !(await memoryLimitEnforceable())) {
    logger.warn({ memoryLimitMb: config.media.memoryLimitMb }, 'prlimit (util-linux) is not available: ffmpeg runs without the media.memoryLimitMb limit');
  }

  engine.ready().then(
    () => logger.info({ model: engine.version }, 'engine ready'),
    (err: unknown) => logger.error({ err }, 'engine failed to load; /healthz reports the error'),
  );
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    // import.meta.url is the real path; argv[1] may be a symlink (npm's bin links).
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

/** No logger may exist yet (config is what failed): a plain line an operator can read. */
function describeBootFailure(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  // The message alone: boot failures (model missing, port taken) are the operator's to fix.
  if (err instanceof Error) return `sori: failed to start: ${err.message}`;
  return `sori: failed to start: ${String(err)}`;
}

if (isEntryPoint()) {
  main().catch((err: unknown) => {
    process.stderr.write(`${describeBootFailure(err)}\n`);
    process.exit(1);
  });
}
