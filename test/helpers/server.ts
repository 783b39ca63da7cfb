/**
 * A real Sori HTTP server on 127.0.0.1 for route tests: real engine, real model, real
 * fastify, with the log lines captured so tests can read them (and written to the run's log
 * directory, with every secret configured or presented, for the check that none is logged:
 * test-logs.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { settingsSchema, type Config, type DomainConfig, type OpenAIConfig } from '../../src/config.js';
import { configuredAuthGate, type AuthGate } from '../../src/domains/auth.js';
import { createLogger } from '../../src/logger.js';
import { createJobSystem } from '../../src/jobs/index.js';
import { buildServer } from '../../src/server.js';
import { sharedVadLoader } from '../../src/speech/vad/silero.js';
import { openDomainBoostings } from '../../src/jobs/postgres-boostings.js';
import { newOwnerId } from '../../src/jobs/owner.js';
import { streamSlotsFor } from '../../src/stream/postgres-stream-slots.js';
import type { EngineConfig, SpeechEngine } from '../../src/speech/engine.js';
import { createEngine } from '../../src/speech/index.js';
import { modelsDir } from './media-fixtures.js';
import { logDestination, recordKeys, registerDomainSecrets, registerSecrets } from './test-logs.js';

export const MiB = 1024 * 1024;

/** The schema's defaults, so a setting added later needs no change here. */
const DEFAULT_SETTINGS = settingsSchema.parse({ domains: [{ name: 'defaults', secret: 'defaults' }] });
const DEFAULT_DOMAIN_LIMITS = DEFAULT_SETTINGS.domains[0].limits;

/** The real engine, tuned for fast tests: greedy decoding, both cores. */
export function testEngine(overrides: Partial<EngineConfig> = {}): SpeechEngine {
  return createEngine({
    modelsDir: modelsDir(),
    model: 'whisper-base',
    threads: 2,
    parallel: 1,
    queueLimit: 64,
    beamSize: 1,
    ...overrides,
  });
}

export function testDomain(name: string, secret: string, limits: Partial<DomainConfig['limits']> = {}): DomainConfig {
  registerSecrets('domain', secret);
  return {
    name,
    secret,
    defaultLanguage: 'ko',
    limits: { ...DEFAULT_DOMAIN_LIMITS, shortMaxSeconds: 60, shortMaxBytes: 10 * MiB, maxConcurrentStreams: 15, ...limits },
  };
}

export function testConfig(domains: DomainConfig[]): Config {
  return {
    server: { host: '127.0.0.1', port: 0, grpcPort: 0, trustProxy: [], console: false, docs: true },
    dataDir: '/nonexistent/sori-test-data',
    database: { url: undefined, poolSize: 10, notifyFallbackSeconds: 10 },
    models: { dir: modelsDir(), asr: 'whisper-base' },
    engine: { threads: 2, parallel: 1, batch: 1, windowBatch: 1, queueLimit: 64, beamSize: 1, streamBeamSize: 2, shortRequestContext: 'window', referenceCacheSize: 256 },
    logLevel: 'info',
    domains,
    auth: { maxFailures: 20, windowSeconds: 60, maxAddresses: 10_000 },
    longform: { syncMaxSeconds: 7200, asyncMaxSeconds: 21600, maxBytes: 2 * 1024 * MiB, downloadTimeoutSeconds: 60 },
    openai: { maxBytes: 25 * MiB, maxSeconds: 7200, otherModels: 1 },
    jobs: {
      workers: 1, queueLimit: 100, leaseSeconds: 30, maxAttempts: 5, syncTimeoutSeconds: 600, timeoutSeconds: 3600, retentionHours: 72,
    },
    callbacks: { retryForSeconds: 3600, timeoutSeconds: 5, maxBackoffSeconds: 2 },
    network: { allowPrivate: false, allowList: [] },
    subtitles: { lineChars: {} },
    http: { ...DEFAULT_SETTINGS.http },
    media: { ...DEFAULT_SETTINGS.media, store: 'local' },
    objectStorage: undefined,
    configFile: null,
  };
}

export interface TestServer {
  app: FastifyInstance;
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** Every log line written so far, as raw text. */
  logText(): string;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Mount long-form recognition with a job system built from this config (data dir included). */
  jobsConfig?: Config;
  /** Without jobs: the server's config (default testConfig(domains)). */
  config?: Config;
  /** Mount the WebSocket streaming route. */
  streaming?: boolean;
  /** The auth gate (to share it with a gRPC server, or set its throttle); default: one from the config. */
  auth?: AuthGate;
  /** OpenAI routes' settings over testConfig's. */
  openai?: Partial<OpenAIConfig>;
}

export async function startServer(engine: SpeechEngine, domains: DomainConfig[], opts: StartOptions = {}): Promise<TestServer> {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: logDestination('server', (line) => void lines.push(line)) });
  const base = opts.jobsConfig ?? opts.config ?? testConfig(domains);
  const config = opts.openai === undefined ? base : { ...base, openai: { ...base.openai, ...opts.openai } };
  registerDomainSecrets('domain', config.domains);
  registerSecrets('object storage', config.objectStorage?.secretAccessKey);
  const auth = recordKeys(opts.auth ?? configuredAuthGate(config, logger));
  const loadVad = sharedVadLoader(modelsDir());
  const jobs = opts.jobsConfig === undefined ? undefined : createJobSystem(opts.jobsConfig, engine, logger, loadVad);
  // As main() wires them: with a PostgreSQL job store, stream slots and boostings live in it too.
  const slots = streamSlotsFor(jobs?.store, { owner: newOwnerId(), leaseMs: config.jobs.leaseSeconds * 1000, logger });
  const boostings = await openDomainBoostings(config.domains, jobs?.store, undefined, {
    onRefreshError: (err) => logger.debug({ err }, 'registered boostings: reload failed'),
  });
  const streaming = opts.streaming
    ? { vad: loadVad, slots }
    : undefined;
  const app = await buildServer({ config, engine, logger, jobs, streaming, auth, boostings });
  await jobs?.start();
  await slots.start();
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  return {
    app,
    url: `http://127.0.0.1:${address.port}`,
    logText: () => lines.join(''),
    close: async () => {
      jobs?.runner.events.emit('closing');
      await app.close();
      await slots.close();
      boostings.close();
      await jobs?.close();
      await loadVad.close();
    },
  };
}

export interface SttCall {
  key?: string;
  /** Raw query string without "?" (e.g. "lang=Eng&graph=true"). */
  query?: string;
  contentType?: string | null;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface SttAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** POST /recog/v1/stt the way CLOVA clients do. */
export async function postStt(url: string, body: Uint8Array | ReadableStream<Uint8Array>, call: SttCall = {}): Promise<SttAnswer> {
  const headers: Record<string, string> = { ...call.headers };
  if (call.key !== undefined) headers['X-CLOVASPEECH-API-KEY'] = call.key;
  if (call.contentType !== null) headers['Content-Type'] = call.contentType ?? 'application/octet-stream';
  // Node's Buffer is a Uint8Array over ArrayBufferLike, which TS's BodyInit does not name; fetch takes it.
  const init: RequestInit & { duplex?: 'half' } = { method: 'POST', headers, body: body as BodyInit, signal: call.signal };
  if (body instanceof ReadableStream) init.duplex = 'half';
  const res = await fetch(`${url}/recog/v1/stt${call.query === undefined ? '' : `?${call.query}`}`, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: tests assert on the raw text.
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Lower-case, punctuation stripped, spaces collapsed: the usual English scoring form. */
export function normalizeEnglish(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s']/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * `count` servers ("nodes") sharing the PostgreSQL database `url`, each with its own data
 * directory; `tweak` adjusts a node's configuration before it starts. `close()` stops them all.
 */
export async function startNodesOnDatabase(
  engine: SpeechEngine,
  opts: { url: string; key: string; count: number; name: string; tweak?: (config: Config) => void },
): Promise<{ nodes: TestServer[]; close(): Promise<void> }> {
  const nodes: TestServer[] = [];
  const dirs: string[] = [];
  const close = async (): Promise<void> => {
    for (const n of nodes) await n.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < opts.count; i++) {
      const config = testConfig([testDomain('general', opts.key)]);
      config.dataDir = await mkdtemp(join(tmpdir(), `sori-${opts.name}-node${i + 1}-`));
      dirs.push(config.dataDir);
      config.database = { ...config.database, url: opts.url, poolSize: 4 };
      opts.tweak?.(config);
      nodes.push(await startServer(engine, [], { jobsConfig: config }));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { nodes, close };
}
