/**
 * The one place configuration is read and validated: an optional JSON/YAML file, then
 * SORI_* environment variables on top, then defaults. Everything else receives a `Config`.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { validateAllowList } from './net/address-policy.js';

export const LANGUAGES = ['ko', 'en', 'ja', 'zh'] as const;
export type Language = (typeof LANGUAGES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The domain whose secret comes from SORI_API_KEY (or is generated on first start). */
export const DEFAULT_DOMAIN = 'general';

const MiB = 1024 * 1024;

export interface DomainLimits {
  /** Longest audio accepted by POST /recog/v1/stt, in seconds. */
  shortMaxSeconds: number;
  /** Largest body accepted by POST /recog/v1/stt, in bytes. */
  shortMaxBytes: number;
  maxConcurrentStreams: number;
}

export interface DomainConfig {
  name: string;
  secret: string;
  defaultLanguage: Language;
  limits: DomainLimits;
  /** Registered boosting keywords (`useDomainBoostings`); the admin route may replace them at runtime. */
  boostings?: string[];
}

/** CLOVA's limit on boosting keywords, per request and per registered set. */
export const MAX_DOMAIN_BOOSTINGS = 1000;

/** Long-form recognition limits (spec section 2, "Limits"). */
export interface LongformLimits {
  syncMaxSeconds: number;
  asyncMaxSeconds: number;
  maxBytes: number;
  /** Longest a media URL or object download may take. */
  downloadTimeoutSeconds: number;
}

export interface JobsConfig {
  /** Long-form jobs processed at once by this process (their windows share the engine). */
  workers: number;
  /** Jobs waiting or running beyond which new ones get ERROR_TOO_MANY_JOBS. */
  queueLimit: number;
  /** A worker that stops renewing its lease this long loses the job to another. */
  leaseSeconds: number;
  /** A job whose processing killed its worker this many times is failed instead of retried. */
  maxAttempts: number;
  /** A sync request answers ERROR_GATEWAY_TIMEOUT after this long (the job goes on). */
  syncTimeoutSeconds: number;
  /** A job still unfinished this long after it was accepted ends as TIMEOUT. */
  timeoutSeconds: number;
  /** Finished jobs (and their results) are deleted after this long. */
  retentionHours: number;
}

export interface CallbacksConfig {
  /** How long a failing callback keeps being retried (exponential backoff). */
  retryForSeconds: number;
  /** Time limit of one POST. */
  timeoutSeconds: number;
  maxBackoffSeconds: number;
}

/** Outbound requests (media URLs, callbacks): private addresses are refused unless allowed. */
export interface NetworkConfig {
  allowPrivate: boolean;
  /** Hostnames, IP addresses or CIDR ranges reachable even though they are private. */
  allowList: string[];
}

export interface ObjectStorageConfig {
  /** e.g. https://kr.object.ncloudstorage.com or http://127.0.0.1:9000; empty for AWS. */
  endpoint: string | undefined;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Path-style addressing (http://host/bucket/key) instead of virtual-host (bucket.host). */
  forcePathStyle: boolean;
  /** Where resultToObs writes `<prefix><token>.json`. */
  resultPrefix: string;
}

export interface Config {
  /** `grpcTls` set: the gRPC port speaks TLS with this certificate and key (PEM files). */
  server: { host: string; port: number; grpcPort: number; grpcTls?: { cert: string; key: string } };
  /** Absolute. */
  dataDir: string;
  /** `dir` is absolute; `asr` names the speech model inside it. */
  models: { dir: string; asr: string };
  /** `streamBeamSize`: the beam of streams' final results (latency-bound, see README). */
  engine: { threads: number; parallel: number; queueLimit: number; beamSize: number; streamBeamSize: number };
  logLevel: LogLevel;
  domains: DomainConfig[];
  longform: LongformLimits;
  jobs: JobsConfig;
  callbacks: CallbacksConfig;
  network: NetworkConfig;
  /** Subtitle characters per line, by language code (defaults: ko/ja/zh 16, en 42). */
  subtitles: { lineChars: Record<string, number> };
  /** Absent: /recognizer/object-storage and resultToObs answer that none is configured. */
  objectStorage: ObjectStorageConfig | undefined;
  /** The config file that was read, if any (absolute). */
  configFile: string | null;
}

export interface LoadConfigOptions {
  /** Where relative env paths and the default sori.yaml/sori.json are looked up. */
  cwd?: string;
  /** Receives the one plain line announcing a generated secret (default: process.stderr). */
  announce?: (line: string) => void;
}

/** A configuration problem the operator must fix; `message` is ready to print as is. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const port = z.int().min(0).max(65535);
const positiveInt = z.int().min(1);

const limitsSchema = z.strictObject({
  shortMaxSeconds: z.number().positive().default(60),
  shortMaxBytes: positiveInt.default(10 * MiB),
  maxConcurrentStreams: positiveInt.default(15),
});

const domainSchema = z.strictObject({
  name: z.string().trim().min(1),
  // Optional only for the default domain (checked below): it may come from env or be generated.
  secret: z.string().min(1).optional(),
  defaultLanguage: z.enum(LANGUAGES).default('ko'),
  limits: limitsSchema.prefault({}),
  // A list, or CLOVA's comma-separated form ("하나님,예수").
  boostings: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => [...new Set((typeof v === 'string' ? v.split(',') : v).map((k) => k.trim()).filter((k) => k !== ''))])
    .pipe(z.array(z.string()).max(MAX_DOMAIN_BOOSTINGS, `at most ${MAX_DOMAIN_BOOSTINGS} keywords`))
    .optional(),
});

const fileSchema = z
  .strictObject({
    server: z
      .strictObject({
        host: z.string().min(1).optional(),
        port: port.optional(),
        grpcPort: port.optional(),
        grpcTlsCert: z.string().min(1).optional(),
        grpcTlsKey: z.string().min(1).optional(),
      })
      .optional(),
    dataDir: z.string().min(1).optional(),
    models: z.strictObject({ dir: z.string().min(1).optional(), asr: z.string().min(1).optional() }).optional(),
    engine: z
      .strictObject({
        threads: positiveInt.optional(),
        parallel: positiveInt.optional(),
        queueLimit: z.int().min(0).optional(),
        beamSize: positiveInt.max(16).optional(),
        streamBeamSize: positiveInt.max(16).optional(),
      })
      .optional(),
    logLevel: z.enum(LOG_LEVELS).optional(),
    domains: z.array(domainSchema).optional(),
    longform: z
      .strictObject({
        syncMaxSeconds: z.number().positive().optional(),
        asyncMaxSeconds: z.number().positive().optional(),
        maxBytes: positiveInt.optional(),
        downloadTimeoutSeconds: z.number().positive().optional(),
      })
      .optional(),
    jobs: z
      .strictObject({
        workers: positiveInt.optional(),
        queueLimit: positiveInt.optional(),
        leaseSeconds: z.number().min(2).optional(),
        maxAttempts: positiveInt.optional(),
        syncTimeoutSeconds: z.number().positive().optional(),
        timeoutSeconds: z.number().positive().optional(),
        retentionHours: z.number().positive().optional(),
      })
      .optional(),
    callbacks: z
      .strictObject({
        retryForSeconds: z.number().min(0).optional(),
        timeoutSeconds: z.number().positive().optional(),
        maxBackoffSeconds: z.number().positive().optional(),
      })
      .optional(),
    network: z
      .strictObject({ allowPrivate: z.boolean().optional(), allowList: z.array(z.string().min(1)).optional() })
      .optional(),
    subtitles: z
      .strictObject({ lineChars: z.record(z.string().min(2), z.int().min(4).max(200)).optional() })
      .optional(),
    objectStorage: z
      .strictObject({
        endpoint: z.string().url().optional(),
        region: z.string().min(1).optional(),
        bucket: z.string().min(1).optional(),
        accessKeyId: z.string().min(1).optional(),
        secretAccessKey: z.string().min(1).optional(),
        forcePathStyle: z.boolean().optional(),
        resultPrefix: z.string().optional(),
      })
      .optional(),
  })
  .superRefine((file, ctx) => {
    const seen = new Map<string, number>();
    file.domains?.forEach((d, i) => {
      if (d.secret === undefined && d.name !== DEFAULT_DOMAIN) {
        ctx.addIssue({
          code: 'custom',
          path: ['domains', i, 'secret'],
          message: `expected string (only the "${DEFAULT_DOMAIN}" domain may omit its secret)`,
        });
      }
      const first = seen.get(d.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['domains', i, 'name'],
          message: `duplicate domain name "${d.name}" (also domains[${first}])`,
        });
      } else {
        seen.set(d.name, i);
      }
    });
  });

type FileConfig = z.infer<typeof fileSchema>;
type FileDomain = NonNullable<FileConfig['domains']>[number];

function formatPath(segments: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out === '' ? String(s) : `.${String(s)}`;
  }
  return out === '' ? '(root)' : out;
}

function formatIssues(error: z.ZodError, where: string): string {
  const lines = error.issues.map((issue) => {
    // zod prefixes type errors with "Invalid input: "; the path already says where.
    const message = issue.message.replace(/^Invalid input: /, '');
    return `config error: ${formatPath(issue.path)}: ${message} (in ${where})`;
  });
  return lines.join('\n');
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

async function findConfigFile(env: NodeJS.ProcessEnv, cwd: string): Promise<string | null> {
  const explicit = nonEmpty(env.SORI_CONFIG);
  if (explicit !== undefined) {
    const file = path.resolve(cwd, explicit);
    if (!(await exists(file))) throw new ConfigError(`config error: SORI_CONFIG: file not found: ${file}`);
    return file;
  }
  for (const name of ['sori.yaml', 'sori.yml', 'sori.json']) {
    const file = path.join(cwd, name);
    if (await exists(file)) return file;
  }
  return null;
}

async function readConfigFile(file: string): Promise<FileConfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config error: cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    const kind = file.endsWith('.json') ? 'JSON' : 'YAML';
    throw new ConfigError(`config error: ${file} is not valid ${kind}: ${(err as Error).message}`);
  }
  // An empty YAML file parses to null: treat it as "no settings".
  const parsed = fileSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, file));
  return parsed.data;
}

function nonEmpty(value: string | undefined): string | undefined {
  // Compose files often pass unset variables as empty strings: those mean "not set".
  return value === undefined || value.trim() === '' ? undefined : value;
}

function envInt(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return undefined;
  const value = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`config error: ${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function grpcTls(cert: string | undefined, key: string | undefined): { cert: string; key: string } | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new ConfigError('config error: gRPC TLS needs both a certificate and a key (SORI_GRPC_TLS_CERT and SORI_GRPC_TLS_KEY)');
  }
  return { cert, key };
}

function envBool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = nonEmpty(env[name])?.trim().toLowerCase();
  if (raw === undefined) return undefined;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`config error: ${name}: expected true or false, got "${raw}"`);
}

/** Present once a bucket is named (file or SORI_S3_BUCKET); then credentials are required. */
function objectStorageConfig(env: NodeJS.ProcessEnv, file: FileConfig): ObjectStorageConfig | undefined {
  const f = file.objectStorage ?? {};
  const bucket = nonEmpty(env.SORI_S3_BUCKET) ?? f.bucket;
  if (bucket === undefined) {
    if (file.objectStorage !== undefined) throw new ConfigError('config error: objectStorage.bucket: required when objectStorage is set');
    return undefined;
  }
  const accessKeyId = nonEmpty(env.SORI_S3_ACCESS_KEY_ID) ?? f.accessKeyId;
  const secretAccessKey = nonEmpty(env.SORI_S3_SECRET_ACCESS_KEY) ?? f.secretAccessKey;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new ConfigError(
      'config error: objectStorage: accessKeyId and secretAccessKey are required (or SORI_S3_ACCESS_KEY_ID / SORI_S3_SECRET_ACCESS_KEY)',
    );
  }
  const endpoint = nonEmpty(env.SORI_S3_ENDPOINT) ?? f.endpoint;
  if (endpoint !== undefined && !/^https?:\/\//.test(endpoint)) {
    throw new ConfigError(`config error: SORI_S3_ENDPOINT: expected an http(s) URL, got "${endpoint}"`);
  }
  return {
    endpoint,
    region: nonEmpty(env.SORI_S3_REGION) ?? f.region ?? 'us-east-1',
    bucket,
    accessKeyId,
    secretAccessKey,
    forcePathStyle: envBool(env, 'SORI_S3_PATH_STYLE') ?? f.forcePathStyle ?? true,
    resultPrefix: f.resultPrefix ?? 'sori-results/',
  };
}

function envLogLevel(env: NodeJS.ProcessEnv): LogLevel | undefined {
  const raw = nonEmpty(env.SORI_LOG_LEVEL)?.trim().toLowerCase();
  if (raw === undefined) return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new ConfigError(`config error: SORI_LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  }
  return raw as LogLevel;
}

/**
 * The default domain's secret when neither env nor file gives one: read from
 * `<dataDir>/secret`, or generated there on first start and announced once.
 */
async function persistedSecret(dataDir: string, announce: (line: string) => void): Promise<string> {
  const file = path.join(dataDir, 'secret');
  try {
    const stored = (await fs.readFile(file, 'utf8')).trim();
    if (stored === '') throw new ConfigError(`config error: ${file} is empty; delete it to generate a new secret`);
    return stored;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`config error: cannot read ${file}: ${(err as Error).message}`);
    }
  }
  const secret = randomBytes(32).toString('base64url');
  try {
    await fs.mkdir(dataDir, { recursive: true });
    // 'wx': if another process created it meanwhile, keep theirs instead of overwriting.
    await fs.writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return persistedSecret(dataDir, announce);
    throw new ConfigError(`config error: cannot write ${file}: ${(err as Error).message}`);
  }
  announce(`sori: generated the API secret of domain "${DEFAULT_DOMAIN}" (saved in ${file}): ${secret}`);
  return secret;
}

function toDomain(d: FileDomain, secret: string): DomainConfig {
  const domain: DomainConfig = { name: d.name, secret, defaultLanguage: d.defaultLanguage, limits: { ...d.limits } };
  if (d.boostings !== undefined && d.boostings.length > 0) domain.boostings = d.boostings;
  return domain;
}

function defaultDomainEntry(): FileDomain {
  return domainSchema.parse({ name: DEFAULT_DOMAIN });
}

export async function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  opts: LoadConfigOptions = {},
): Promise<Config> {
  const cwd = opts.cwd ?? process.cwd();
  const announce = opts.announce ?? ((line: string) => void process.stderr.write(`${line}\n`));

  const configFile = await findConfigFile(env, cwd);
  const file: FileConfig = configFile === null ? {} : await readConfigFile(configFile);
  // Paths in the file are relative to the file, so a config keeps working wherever it is mounted.
  const fileBase = configFile === null ? cwd : path.dirname(configFile);
  const fromFile = (p: string | undefined) => (p === undefined ? undefined : path.resolve(fileBase, p));
  const fromEnv = (p: string | undefined) => (p === undefined ? undefined : path.resolve(cwd, p));

  const dataDir = fromEnv(nonEmpty(env.SORI_DATA_DIR)) ?? fromFile(file.dataDir) ?? path.resolve(cwd, 'data');

  const config: Config = {
    server: {
      host: nonEmpty(env.SORI_HOST) ?? file.server?.host ?? '0.0.0.0',
      port: envInt(env, 'SORI_PORT', 0, 65535) ?? file.server?.port ?? 8080,
      grpcPort: envInt(env, 'SORI_GRPC_PORT', 0, 65535) ?? file.server?.grpcPort ?? 50051,
    },
    dataDir,
    models: {
      dir: fromEnv(nonEmpty(env.SORI_MODELS_DIR)) ?? fromFile(file.models?.dir) ?? path.resolve(cwd, 'models'),
      asr: nonEmpty(env.SORI_MODEL) ?? file.models?.asr ?? 'whisper-base',
    },
    engine: {
      threads: envInt(env, 'SORI_THREADS', 1, 1024) ?? file.engine?.threads ?? os.availableParallelism(),
      parallel: envInt(env, 'SORI_PARALLEL', 1, 1024) ?? file.engine?.parallel ?? 1,
      queueLimit: envInt(env, 'SORI_QUEUE_LIMIT', 0, 1_000_000) ?? file.engine?.queueLimit ?? 32,
      beamSize: envInt(env, 'SORI_BEAM_SIZE', 1, 16) ?? file.engine?.beamSize ?? 5,
      // Measured on the ko quick set: beam 2 has beam 5's CER (9.7%) at 25% less decode time,
      // which a stream's final waits for; greedy loses 1.8 points.
      streamBeamSize: envInt(env, 'SORI_STREAM_BEAM_SIZE', 1, 16) ?? file.engine?.streamBeamSize ?? 2,
    },
    logLevel: envLogLevel(env) ?? file.logLevel ?? 'info',
    domains: [],
    longform: {
      syncMaxSeconds: file.longform?.syncMaxSeconds ?? 2 * 3600,
      asyncMaxSeconds: file.longform?.asyncMaxSeconds ?? 6 * 3600,
      maxBytes: file.longform?.maxBytes ?? 2 * 1024 * MiB,
      downloadTimeoutSeconds: file.longform?.downloadTimeoutSeconds ?? 3600,
    },
    jobs: {
      workers: envInt(env, 'SORI_JOB_WORKERS', 1, 64) ?? file.jobs?.workers ?? 2,
      queueLimit: file.jobs?.queueLimit ?? 100,
      leaseSeconds: file.jobs?.leaseSeconds ?? 30,
      maxAttempts: file.jobs?.maxAttempts ?? 5,
      syncTimeoutSeconds: file.jobs?.syncTimeoutSeconds ?? 3600,
      timeoutSeconds: file.jobs?.timeoutSeconds ?? 24 * 3600,
      retentionHours: file.jobs?.retentionHours ?? 72,
    },
    callbacks: {
      retryForSeconds: file.callbacks?.retryForSeconds ?? 24 * 3600,
      timeoutSeconds: file.callbacks?.timeoutSeconds ?? 10,
      maxBackoffSeconds: file.callbacks?.maxBackoffSeconds ?? 300,
    },
    network: {
      allowPrivate: envBool(env, 'SORI_ALLOW_PRIVATE_URLS') ?? file.network?.allowPrivate ?? false,
      allowList: file.network?.allowList ?? [],
    },
    subtitles: { lineChars: file.subtitles?.lineChars ?? {} },
    objectStorage: objectStorageConfig(env, file),
    configFile,
  };

  const tls = grpcTls(
    fromEnv(nonEmpty(env.SORI_GRPC_TLS_CERT)) ?? fromFile(file.server?.grpcTlsCert),
    fromEnv(nonEmpty(env.SORI_GRPC_TLS_KEY)) ?? fromFile(file.server?.grpcTlsKey),
  );
  if (tls !== undefined) config.server.grpcTls = tls;

  const fileDomains = file.domains ?? [];
  const hasDefault = fileDomains.some((d) => d.name === DEFAULT_DOMAIN);
  const entries = hasDefault ? fileDomains : [defaultDomainEntry(), ...fileDomains];
  for (const d of entries) {
    let secret = d.secret;
    if (d.name === DEFAULT_DOMAIN) {
      secret = nonEmpty(env.SORI_API_KEY) ?? secret ?? (await persistedSecret(dataDir, announce));
    }
    // The schema guarantees a secret on every other domain.
    config.domains.push(toDomain(d, secret as string));
  }

  try {
    validateAllowList(config.network.allowList);
  } catch (err) {
    throw new ConfigError(`config error: network.allowList: ${(err as Error).message}`);
  }

  const owners = new Map<string, string>();
  for (const d of config.domains) {
    const other = owners.get(d.secret);
    // Never echo the secret itself: the message may end up in a log.
    if (other !== undefined) {
      throw new ConfigError(`config error: domains: "${other}" and "${d.name}" have the same secret; secrets must be unique`);
    }
    owners.set(d.secret, d.name);
  }
  return config;
}
