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
}

export interface Config {
  server: { host: string; port: number; grpcPort: number };
  /** Absolute. */
  dataDir: string;
  /** `dir` is absolute; `asr` names the speech model inside it. */
  models: { dir: string; asr: string };
  engine: { threads: number; parallel: number; queueLimit: number; beamSize: number };
  logLevel: LogLevel;
  domains: DomainConfig[];
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
});

const fileSchema = z
  .strictObject({
    server: z
      .strictObject({ host: z.string().min(1).optional(), port: port.optional(), grpcPort: port.optional() })
      .optional(),
    dataDir: z.string().min(1).optional(),
    models: z.strictObject({ dir: z.string().min(1).optional(), asr: z.string().min(1).optional() }).optional(),
    engine: z
      .strictObject({
        threads: positiveInt.optional(),
        parallel: positiveInt.optional(),
        queueLimit: z.int().min(0).optional(),
        beamSize: positiveInt.max(16).optional(),
      })
      .optional(),
    logLevel: z.enum(LOG_LEVELS).optional(),
    domains: z.array(domainSchema).optional(),
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
  return { name: d.name, secret, defaultLanguage: d.defaultLanguage, limits: { ...d.limits } };
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
    },
    logLevel: envLogLevel(env) ?? file.logLevel ?? 'info',
    domains: [],
    configFile,
  };

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
