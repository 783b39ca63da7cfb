/**
 * The one place configuration is declared, read and validated. `settingsSchema` declares every
 * setting once (type and range, default, description, environment variable); from it come the
 * `Config` type, the environment overlay, the defaults, and the reference (docs/configuration.md
 * and config.example.yaml, rendered by src/config-reference.ts: `npm run config:docs`).
 * Precedence: default < file (JSON/YAML) < SORI_* environment variable. Everything else receives
 * a `Config`.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { validateAllowList } from './net/address-policy.js';
import { validateTrustedProxies } from './net/client-address.js';

export const LANGUAGES = ['ko', 'en', 'ja', 'zh'] as const;
export type Language = (typeof LANGUAGES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The domain whose secret comes from SORI_API_KEY (or is generated on first start). */
export const DEFAULT_DOMAIN = 'general';

/** CLOVA's limit on boosting keywords, per request and per registered set. */
export const MAX_DOMAIN_BOOSTINGS = 1000;

/** Names the config file; without it, the first of CONFIG_FILE_NAMES in the working directory. */
export const CONFIG_FILE_ENV = 'SORI_CONFIG';
export const CONFIG_FILE_NAMES = ['sori.yaml', 'sori.yml', 'sori.json'] as const;

/** The default domain's secret (domains are a list, so this one is read by loadConfig itself). */
export const API_KEY_ENV = 'SORI_API_KEY';
/** The default domain's previous secret, still accepted during a rotation (read the same way). */
export const PREVIOUS_API_KEY_ENV = 'SORI_API_KEY_PREVIOUS';

/** Previous secrets a domain may keep during a rotation. */
export const MAX_PREVIOUS_SECRETS = 4;

const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The declaration

/** What the schema of one setting carries besides its type, range and default. */
export interface SettingMeta {
  /** One or two sentences for the reference (Markdown table, comment in the example file). */
  description: string;
  /** The SORI_* variable that overrides the file. Inside a list (domains) it is read by hand. */
  env?: string;
  /** Qualifies `env` in the reference, e.g. which list entry it applies to. */
  envNote?: string;
  /** A path: relative to the file when set there, else to the working directory. */
  path?: boolean;
  /** Never echoed in an error message. */
  secret?: boolean;
  /** How the reference names the type, when its own description would mislead (a URL of another scheme). */
  typeText?: string;
  /** How the reference shows a default computed at load time (e.g. "all cores"). */
  defaultText?: string;
  /** Shown, commented out, in config.example.yaml for a setting without a default. */
  example?: unknown;
  /** A list: further entries shown commented out in config.example.yaml. */
  moreExamples?: { comment: string; items: unknown[] };
  /** An optional section: environment variables create it only when this key's variable is set. */
  createdBy?: string;
}

/** Every setting's and section's metadata, keyed by its schema. */
export const settingRegistry = z.registry<SettingMeta>();

function setting<T extends z.ZodType>(schema: T, meta: SettingMeta): T {
  settingRegistry.add(schema as z.ZodType, meta);
  return schema;
}

const port = z.int().min(0).max(65535);
const positiveInt = z.int().min(1);

const limitsSchema = z.strictObject({
  shortMaxSeconds: setting(z.number().positive().default(60), {
    description: 'Longest audio accepted by POST /recog/v1/stt, in seconds (longer: 413 STT001).',
  }),
  shortMaxBytes: setting(positiveInt.default(10 * MiB), {
    description: 'Largest body accepted by POST /recog/v1/stt, in bytes (larger: 413 STT001).',
  }),
  maxConcurrentStreams: setting(positiveInt.default(15), {
    description: 'Streams (gRPC and WebSocket) of the domain open at once, over every node with `database.url`; more are refused ("Too many channels").',
  }),
  requestsPerSecond: setting(z.number().min(0).default(0), {
    description:
      'Recognition requests (POST /recog/v1/stt and the long-form POSTs) the domain may make per second, on average (a token bucket); ' +
      'beyond it: 503 STT007 (short) or 429 ERROR_TOO_MANY_JOBS (long-form), with Retry-After. 0 = no limit.',
  }),
  requestBurst: setting(positiveInt.optional(), {
    description: 'Requests the domain may make at once above requestsPerSecond (the bucket\'s size).',
    defaultText: 'requestsPerSecond rounded up',
    example: 10,
  }),
  maxConcurrentUploads: setting(positiveInt.default(16), {
    description: 'POST /recognizer/upload bodies of the domain being received at once; more get 429 ERROR_TOO_MANY_JOBS with Retry-After.',
  }),
});

const domainSchema = z.strictObject({
  name: setting(z.string().trim().min(1), {
    description: `Unique name. The "${DEFAULT_DOMAIN}" domain always exists (with the defaults when not listed).`,
    example: DEFAULT_DOMAIN,
  }),
  // Optional only for the default domain (checked below): it may come from env or be generated.
  secret: setting(z.string().min(1).optional(), {
    description:
      `The domain's X-CLOVASPEECH-API-KEY; unique. Required, except for the "${DEFAULT_DOMAIN}" domain: ` +
      `${API_KEY_ENV}, else this, else generated on first start, saved in \`<dataDir>/secret\` and printed once to stderr.`,
    env: API_KEY_ENV,
    envNote: `"${DEFAULT_DOMAIN}" only`,
    secret: true,
    example: 'change-me',
  }),
  previousSecrets: setting(
    z.array(z.string().min(1)).max(MAX_PREVIOUS_SECRETS, `at most ${MAX_PREVIOUS_SECRETS} previous secrets`).default([]),
    {
      description:
        'Secrets accepted besides `secret` on every route, WebSocket and gRPC, for a rotation: clients move to the new `secret` ' +
        `while the old one still works (docs/operations.md, "Rotating a secret"). Unique like \`secret\`; at most ${MAX_PREVIOUS_SECRETS}.`,
      env: PREVIOUS_API_KEY_ENV,
      envNote: `"${DEFAULT_DOMAIN}" only, one secret`,
      secret: true,
    },
  ),
  defaultLanguage: setting(z.enum(LANGUAGES).default('ko'), {
    description: 'Language of requests that name none.',
  }),
  limits: setting(limitsSchema.prefault({}), { description: 'Per-domain limits.' }),
  // A list, or CLOVA's comma-separated form ("하나님,예수").
  boostings: setting(
    z
      .union([z.string(), z.array(z.string())])
      .transform((v) => [...new Set((typeof v === 'string' ? v.split(',') : v).map((k) => k.trim()).filter((k) => k !== ''))])
      .pipe(z.array(z.string()).max(MAX_DOMAIN_BOOSTINGS, `at most ${MAX_DOMAIN_BOOSTINGS} keywords`))
      .optional(),
    {
      description:
        `Registered boosting keywords (at most ${MAX_DOMAIN_BOOSTINGS}), used by long-form \`useDomainBoostings: true\` and a stream's ` +
        '`keywordBoosting.boostingIDs`: a list, or CLOVA\'s comma-separated string. `PUT /admin/domains/<name>/boostings` replaces them at runtime (kept in `<dataDir>`, or in PostgreSQL for every node with `database.url`).',
      example: ['하나님', '예수', '찬송가'],
    },
  ),
});

const domainsSchema = z.array(domainSchema).superRefine((domains, ctx) => {
  const seen = new Map<string, number>();
  domains.forEach((d, i) => {
    if (d.secret === undefined && d.name !== DEFAULT_DOMAIN) {
      ctx.addIssue({
        code: 'custom',
        path: [i, 'secret'],
        message: `expected string (only the "${DEFAULT_DOMAIN}" domain may omit its secret)`,
      });
    }
    const first = seen.get(d.name);
    if (first !== undefined) {
      ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate domain name "${d.name}" (also domains[${first}])` });
    } else {
      seen.set(d.name, i);
    }
  });
});

/**
 * Every setting, as a file spells it. Unknown keys are rejected, so a typo is an error at boot
 * rather than a silently ignored setting.
 */
export const settingsSchema = z.strictObject({
  server: setting(
    z
      .strictObject({
        host: setting(z.string().min(1).default('0.0.0.0'), { env: 'SORI_HOST', description: 'Listen address (HTTP and gRPC).' }),
        port: setting(port.default(8080), {
          env: 'SORI_PORT',
          description: 'HTTP port: CLOVA REST API, WebSocket streaming, /healthz, /metrics.',
        }),
        grpcPort: setting(port.default(50051), { env: 'SORI_GRPC_PORT', description: 'gRPC streaming port (CLOVA `NestService`).' }),
        grpcTlsCert: setting(z.string().min(1).optional(), {
          env: 'SORI_GRPC_TLS_CERT',
          path: true,
          description: 'PEM certificate; with grpcTlsKey, the gRPC port speaks TLS.',
          example: './tls/cert.pem',
        }),
        grpcTlsKey: setting(z.string().min(1).optional(), {
          env: 'SORI_GRPC_TLS_KEY',
          path: true,
          description: 'PEM private key of grpcTlsCert.',
          example: './tls/key.pem',
        }),
        trustProxy: setting(z.array(z.string().min(1)).default([]), {
          description:
            'Reverse proxies in front of Sori (IP addresses or CIDR ranges, e.g. `[127.0.0.1, 10.0.0.0/8]`) whose `X-Forwarded-For` ' +
            '(gRPC: `x-forwarded-for` metadata) names the client the auth throttle counts. Empty: the client is the connection\'s ' +
            'address and X-Forwarded-For is ignored (anyone can write it).',
        }),
        console: setting(z.boolean().default(true), {
          env: 'SORI_CONSOLE',
          description: 'Serve the web console (docs/console.md) at `/` on the HTTP port; false: not mounted (404).',
        }),
        docs: setting(z.boolean().default(true), {
          env: 'SORI_DOCS',
          description: 'Serve the OpenAPI 3.1 document at /openapi.json and Swagger UI at /docs (no secret needed: they describe the API, docs/api/openapi.md).',
        }),
      })
      .prefault({}),
    { description: 'Listening.' },
  ),
  http: setting(
    z
      .strictObject({
        headersTimeoutSeconds: setting(z.number().positive().default(30), {
          description: 'A request whose headers are not complete this long after its connection opened (or after the previous request) gets 408 and its connection is closed.',
        }),
        requestTimeoutSeconds: setting(z.number().min(0).default(3600), {
          description:
            'A request not received whole (headers and body) this long after it started gets 408 and its connection is closed; ' +
            '3600 s lets a 2 GB upload arrive at 0.6 MB/s. 0 = no limit. Time spent answering (a sync long-form job) does not count.',
        }),
        minBodyBytesPerSecond: setting(z.int().min(0).default(1024), {
          description:
            'A request body arriving slower than this, over any bodyRateWindowSeconds, gets 408 and its connection is closed (slow-body attacks). ' +
            'Time the server itself is not reading (it is busy) does not count. 0 = no minimum.',
        }),
        bodyRateWindowSeconds: setting(z.number().positive().default(30), {
          description: 'The window over which minBodyBytesPerSecond is measured; a pause shorter than this costs nothing.',
        }),
        keepAliveTimeoutSeconds: setting(z.number().positive().default(72), {
          description: 'An idle keep-alive connection is closed after this long (longer than common load balancers\' 60 s).',
        }),
        maxConnectionsPerAddress: setting(z.int().min(0).default(64), {
          description:
            'HTTP connections open at once from one client address; more are closed at once, without an answer. ' +
            'Behind a reverse proxy every client has the proxy\'s address: raise it or set 0 (no limit).',
        }),
      })
      .refine((h) => h.requestTimeoutSeconds === 0 || h.headersTimeoutSeconds <= h.requestTimeoutSeconds, {
        message: 'headersTimeoutSeconds must not exceed requestTimeoutSeconds',
        path: ['headersTimeoutSeconds'],
      })
      .prefault({}),
    { description: 'HTTP connections: timeouts for slow clients, connections per client address.' },
  ),
  dataDir: setting(z.string().min(1).default('./data'), {
    env: 'SORI_DATA_DIR',
    path: true,
    description:
      'State: the generated secret (`secret`, mode 0600), the job database (`sori.db`, unless `database.url` names PostgreSQL), media of unfinished jobs (of those this node runs, with `media.store: s3`), registered boosting keywords.',
  }),
  database: setting(
    z
      .strictObject({
        url: setting(z.url({ protocol: /^postgres(ql)?$/, error: 'expected a postgres:// URL' }).optional(), {
          env: 'SORI_DATABASE_URL',
          secret: true,
          typeText: 'postgres:// URL',
          description:
            'PostgreSQL for the job store (`postgres://user:password@host:5432/database`), shared by every node of a cluster; ' +
            'its schema is migrated at start. Absent: SQLite in `<dataDir>/sori.db`, for one node.',
          example: 'postgres://sori:change-me@127.0.0.1:5432/sori',
        }),
        poolSize: setting(positiveInt.max(1000).default(10), {
          env: 'SORI_DATABASE_POOL_SIZE',
          description: 'PostgreSQL connections this node opens at most.',
        }),
        notifyFallbackSeconds: setting(z.number().min(1).max(3600).default(10), {
          env: 'SORI_DATABASE_NOTIFY_FALLBACK_SECONDS',
          description:
            'With PostgreSQL, nodes wake each other with LISTEN/NOTIFY (a job accepted, a job ended); a sync request waiting for a job another node runs ' +
            'also re-reads it this often, in case a notification was lost (its node\'s listening connection was down).',
        }),
      })
      .prefault({}),
    { description: 'Where long-form jobs are kept.' },
  ),
  models: setting(
    z
      .strictObject({
        dir: setting(z.string().min(1).default('./models'), { env: 'SORI_MODELS_DIR', path: true, description: 'Model folders, by name.' }),
        asr: setting(z.string().min(1).default('whisper-base'), {
          env: 'SORI_MODEL',
          description: 'The speech model: any Whisper size in the same layout (whisper-small, whisper-large-v3-turbo, ...).',
        }),
      })
      .prefault({}),
    { description: 'Models.' },
  ),
  engine: setting(
    z
      .strictObject({
        threads: setting(positiveInt.max(1024).default(() => os.availableParallelism()), {
          env: 'SORI_THREADS',
          description: 'CPU threads for inference, in total.',
          defaultText: 'all cores',
          example: 4,
        }),
        parallel: setting(positiveInt.max(1024).default(1), {
          env: 'SORI_PARALLEL',
          description: 'Recognitions running at once; the threads are split between them, and each loads its own copy of the model.',
        }),
        // Measured on 2 cores (docs/benchmarks.md, "Batched decoding"): 4 gave no throughput gain
        // (10 short clients 10.0 vs 10.3 audio s/s; 16 streams no better) and +440 MB peak RSS.
        batch: setting(positiveInt.max(64).default(1), {
          env: 'SORI_BATCH',
          description:
            'Requests of one kind (stream finals, partial results, short requests, long-form windows) decoded together by each inference process, ' +
            'their decoder steps run as one batch. 1 = one at a time (the default: on 2 cores, 4 measured no faster and used 440 MB more).',
        }),
        windowBatch: setting(positiveInt.max(16).default(1), {
          env: 'SORI_WINDOW_BATCH',
          description:
            "Windows of one long recording (a long-form job's 30 s pieces) decoded together, their beam searches in lockstep: one decoder run per step for all of them. " +
            "1 = one window at a time (the default: on 2 cores, 4 measured 1.08-1.21x faster on a 12-minute file for ~250 MB more, and texts move: a window's search in one 3-minute dialogue ended a sentence early, which the second look now recovers).",
        }),
        queueLimit: setting(z.int().min(0).max(1_000_000).default(32), {
          env: 'SORI_QUEUE_LIMIT',
          description: 'Requests that may wait for the engine; beyond it, the busy answer (503 STT007).',
        }),
        beamSize: setting(positiveInt.max(16).default(5), { env: 'SORI_BEAM_SIZE', description: 'Beam search width; 1 = greedy (fastest).' }),
        // Measured on the ko quick set: beam 2 has beam 5's CER (9.7%) at 25% less decode time,
        // which a stream's final waits for; greedy loses 1.8 points.
        streamBeamSize: setting(positiveInt.max(16).default(2), {
          env: 'SORI_STREAM_BEAM_SIZE',
          description:
            "Beam of streams' final results: on the Korean quick set beam 2 matches beam 5 (CER 9.7%) in 25% less decode time, which a final waits for; greedy loses 1.8 points.",
        }),
        // Measured on 2 cores, npm run bench on the quick set (docs/benchmarks.md, "Short requests
        // on the audio's own context"): 'audio' 1.4x the throughput of 10 clients, and errors up
        // 0.5-2.4 points per language; the issue's accuracy bar is 0.2, so 'window' stays.
        shortRequestContext: setting(z.enum(['window', 'audio']).default('window'), {
          env: 'SORI_SHORT_REQUEST_CONTEXT',
          description:
            "What the encoder sees for a short request (/recog/v1/stt, OpenAI's): 'window', Whisper's 30 s window; 'audio', the request's audio plus 1 s. On 2 cores 'audio' answered 10 concurrent clients with 1.4x the throughput (16.5 vs 12.0 audio s/s) and cut time per request by 27%, at +0.5 (ko) to +2.4 (zh) points of error on the quick set. Pronunciation assessment always uses the window.",
        }),
        referenceCacheSize: setting(z.int().min(0).max(100_000).default(256), {
          env: 'SORI_REFERENCE_CACHE_SIZE',
          description:
            'Pronunciation assessment: reference pronunciations (for ref_graph) kept per inference process, by text; learners repeat sentences, and a cached one costs nothing. 0 = none.',
        }),
      })
      .prefault({}),
    { description: 'Speech recognition engine.' },
  ),
  logLevel: setting(z.enum(LOG_LEVELS).default('info'), { env: 'SORI_LOG_LEVEL', description: 'Log level (pino).' }),
  domains: setting(domainsSchema.default([]), {
    description:
      "A domain is CLOVA's unit of configuration: its own secret (the X-CLOVASPEECH-API-KEY header), default language and limits. Names and secrets must be unique.",
    moreExamples: {
      comment: 'Another team with its own secret and limits:',
      items: [{ name: 'callcenter', secret: 'another-long-random-string', defaultLanguage: 'en', limits: { shortMaxSeconds: 30 } }],
    },
  }),
  auth: setting(
    z
      .strictObject({
        maxFailures: setting(z.int().min(0).max(1_000_000).default(20), {
          env: 'SORI_AUTH_MAX_FAILURES',
          description:
            'Wrong secrets one client address may present within `windowSeconds` (on any route, WebSocket or gRPC); past it, its ' +
            'requests are refused without their secret being checked until the window ends: HTTP 429 with Retry-After ' +
            '(short: STT008, long-form: ERROR_TOO_MANY_AUTH_FAILURES), WebSocket close 4429, gRPC RESOURCE_EXHAUSTED. 0 = no limit.',
        }),
        windowSeconds: setting(z.number().positive().max(86_400).default(60), {
          env: 'SORI_AUTH_WINDOW_SECONDS',
          description: "The throttle's window, from a client's first wrong secret; a blocked client waits for its end.",
        }),
        maxAddresses: setting(positiveInt.max(10_000_000).default(10_000), {
          description:
            'Client addresses the throttle remembers at once, the least recently seen forgotten first: bounds its memory ' +
            '(about 200 bytes each). IPv6 clients count per /64.',
        }),
      })
      .prefault({}),
    { description: 'Throttling of repeated wrong secrets per client address (server.trustProxy says who the client is behind a proxy).' },
  ),
  longform: setting(
    z
      .strictObject({
        syncMaxSeconds: setting(z.number().positive().default(2 * 3600), { description: 'Longest media for `completion: sync`, in seconds.' }),
        asyncMaxSeconds: setting(z.number().positive().default(6 * 3600), { description: 'Longest media for `completion: async`, in seconds.' }),
        maxBytes: setting(positiveInt.default(2 * 1024 * MiB), { description: 'Largest upload or download, in bytes.' }),
        downloadTimeoutSeconds: setting(z.number().positive().default(3600), {
          description: 'Longest a media URL or object download may take.',
        }),
      })
      .prefault({}),
    { description: 'Long-form recognition (/recognizer/...): limits (spec section 2, "Limits").' },
  ),
  media: setting(
    z
      .strictObject({
        decodeTimeoutSeconds: setting(z.number().positive().default(120), {
          description:
            'Longest ffprobe and ffmpeg may take on a short request (together), or probing a long-form job\'s media; killed beyond it ' +
            '(short: 500 STT006, long-form: ERROR_AUDIO_CONVERSION).',
        }),
        stallTimeoutSeconds: setting(z.number().positive().default(120), {
          description:
            'A long-form decode (ffmpeg streaming hours of audio) that produces nothing this long while it is read is killed (ERROR_AUDIO_CONVERSION).',
        }),
        store: setting(z.enum(['local', 's3']).optional(), {
          env: 'SORI_MEDIA_STORE',
          typeText: 'local or s3',
          example: 's3',
          description:
            'Where uploaded long-form media waits for its job: `local` (`<dataDir>/media`, this node only) or `s3` (`objectStorage` under `objectStorage.mediaPrefix`, ' +
            'so any node can run the job: cluster mode). Default: `s3` when `database.url` and `objectStorage` are both set, else `local`.',
        }),
        memoryLimitMb: setting(z.int().min(0).default(1024), {
          description:
            'Address space of each ffmpeg and ffprobe process, in MiB, set with prlimit (util-linux; without it the limit is not enforced, and the log says so at start). ' +
            'About 300 of it are ffmpeg\'s own libraries and thread stacks. A video frame too large for it is skipped (only the audio is needed); ' +
            'audio that cannot be decoded within it fails as not decodable (short: 500 STT006, long-form: ERROR_AUDIO_CONVERSION). 0 = no limit.',
        }),
      })
      .prefault({}),
    { description: 'Long-form media: where uploads are kept; decoding with ffmpeg: time and memory bounds.' },
  ),
  openai: setting(
    z
      .strictObject({
        maxBytes: setting(positiveInt.default(25 * MiB), {
          env: 'SORI_OPENAI_MAX_BYTES',
          description:
            'Largest `file` accepted by POST /v1/audio/transcriptions and /v1/audio/translations, in bytes (default 25 MiB, OpenAI\'s limit); larger: 413.',
        }),
        maxSeconds: setting(z.number().positive().default(2 * 3600), {
          description:
            'Longest audio those routes transcribe, in seconds (longer: 400 `audio_too_long`). Audio over 30 s is decoded window by window at pauses, as long-form jobs are, so memory stays flat.',
        }),
        otherModels: setting(z.int().min(0).max(16).default(1), {
          env: 'SORI_OPENAI_OTHER_MODELS',
          description:
            'Installed Whisper models besides `models.asr` that a request\'s `model` may name, loaded at once: each loads on first use in its own inference process ' +
            '(`engine.threads` threads, one recognition at a time), the least recently used idle one closed for another. 0 = `models.asr` only.',
        }),
      })
      .prefault({}),
    { description: 'The OpenAI-compatible API (/v1/audio/transcriptions, /v1/audio/translations, /v1/models): docs/api/openai.md.' },
  ),
  jobs: setting(
    z
      .strictObject({
        workers: setting(z.int().min(0).max(64).default(2), {
          env: 'SORI_JOB_WORKERS',
          description:
            'Long-form jobs processed at once by this process (their windows share the engine). 0 (PostgreSQL only): this node accepts and answers, other nodes run the jobs.',
        }),
        queueLimit: setting(positiveInt.default(100), {
          description: 'Jobs waiting or running beyond which new ones get 429 ERROR_TOO_MANY_JOBS (sync: 503).',
        }),
        leaseSeconds: setting(z.number().min(2).default(30), {
          description:
            'A worker that stops renewing its lease this long loses the job to another. With `database.url`, also the lease of a stream slot: ' +
            'a dead node\'s streams stop counting against `maxConcurrentStreams` within this long.',
        }),
        maxAttempts: setting(positiveInt.default(5), {
          description: 'A job whose processing killed its worker this many times is failed instead of retried.',
        }),
        syncTimeoutSeconds: setting(z.number().positive().default(3600), {
          description: 'A sync request answers 504 ERROR_GATEWAY_TIMEOUT after this long (the job goes on).',
        }),
        timeoutSeconds: setting(z.number().positive().default(24 * 3600), {
          description: 'A job still unfinished this long after it was accepted ends as TIMEOUT.',
        }),
        retentionHours: setting(z.number().positive().default(72), { description: 'Finished jobs and their results are deleted after this long.' }),
      })
      .prefault({}),
    { description: 'Long-form jobs.' },
  ),
  callbacks: setting(
    z
      .strictObject({
        retryForSeconds: setting(z.number().min(0).default(24 * 3600), {
          description: 'How long a failing callback keeps being retried (exponential backoff).',
        }),
        timeoutSeconds: setting(z.number().positive().default(10), { description: 'Time limit of one POST.' }),
        maxBackoffSeconds: setting(z.number().positive().default(300), { description: 'Longest wait between two attempts.' }),
      })
      .prefault({}),
    { description: 'Long-form result callbacks.' },
  ),
  network: setting(
    z
      .strictObject({
        allowPrivate: setting(z.boolean().default(false), {
          env: 'SORI_ALLOW_PRIVATE_URLS',
          description: 'Let media URLs and callbacks reach private, loopback and other non-public addresses.',
        }),
        allowList: setting(z.array(z.string().min(1)).default([]), {
          description: 'Hostnames, IP addresses or CIDR ranges reachable even though they are private, e.g. `[media.internal, 10.20.0.0/16]`.',
        }),
      })
      .prefault({}),
    {
      description:
        'Outbound requests (media URLs, callbacks) may not reach private, loopback, link-local (cloud metadata) or other non-public addresses unless allowed here.',
    },
  ),
  subtitles: setting(
    z
      .strictObject({
        lineChars: setting(z.record(z.string().min(2), z.int().min(4).max(200)).default({}), {
          description: 'Subtitle characters per line, by language code, over the built-in ko/ja/zh 16, en 42; e.g. `{ko: 18, en: 40}`.',
        }),
      })
      .prefault({}),
    { description: 'Subtitles (SRT/WebVTT) of long-form results.' },
  ),
  objectStorage: setting(
    z
      .strictObject({
        endpoint: setting(z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(), {
          env: 'SORI_S3_ENDPOINT',
          description: 'e.g. https://kr.object.ncloudstorage.com or http://127.0.0.1:9000; omit for AWS.',
          example: 'https://kr.object.ncloudstorage.com',
        }),
        region: setting(z.string().min(1).default('us-east-1'), { env: 'SORI_S3_REGION', description: 'Region (NCloud: kr-standard).' }),
        bucket: setting(z.string().min(1).optional(), { env: 'SORI_S3_BUCKET', description: 'Bucket; required.', example: 'my-bucket' }),
        accessKeyId: setting(z.string().min(1).optional(), { env: 'SORI_S3_ACCESS_KEY_ID', description: 'Access key; required.', example: 'your-access-key-id' }),
        secretAccessKey: setting(z.string().min(1).optional(), {
          env: 'SORI_S3_SECRET_ACCESS_KEY',
          secret: true,
          description: 'Secret key; required.',
          example: 'your-secret-access-key',
        }),
        forcePathStyle: setting(z.boolean().default(true), {
          env: 'SORI_S3_PATH_STYLE',
          description: 'Path-style addressing (http://host/bucket/key) instead of virtual-host (bucket.host).',
        }),
        resultPrefix: setting(z.string().default('sori-results/'), { description: 'Where resultToObs writes `<prefix><token>.json`.' }),
        mediaPrefix: setting(z.string().min(1).default('sori-media/'), {
          env: 'SORI_S3_MEDIA_PREFIX',
          description: 'With `media.store: s3`, uploads wait for their job as `<prefix><token>`; deleted when the job ends (or is purged).',
        }),
      })
      .optional(),
    {
      description:
        'S3-compatible object storage for /recognizer/object-storage and resultToObs. Absent: those answer that none is configured; ' +
        'present (in the file, or SORI_S3_BUCKET), it needs a bucket and credentials.',
      createdBy: 'bucket',
    },
  ),
});

// ---------------------------------------------------------------------------------------------
// The types, from the declaration

type Settings = z.output<typeof settingsSchema>;
type DomainSettings = z.output<typeof domainSchema>;
type ObjectStorageSettings = NonNullable<Settings['objectStorage']>;

export type DomainLimits = DomainSettings['limits'];

export interface DomainConfig extends Omit<DomainSettings, 'secret' | 'previousSecrets' | 'boostings'> {
  secret: string;
  /** Secrets accepted besides `secret` during a rotation (absent: none). */
  previousSecrets?: string[];
  /** Registered boosting keywords (`useDomainBoostings`); the admin route may replace them at runtime. */
  boostings?: string[];
}

export type AuthConfig = Settings['auth'];
export type LongformLimits = Settings['longform'];
export type JobsConfig = Settings['jobs'];
export type DatabaseConfig = Settings['database'];
export type CallbacksConfig = Settings['callbacks'];
export type NetworkConfig = Settings['network'];
export type HttpLimits = Settings['http'];
export type MediaLimits = Settings['media'];
export type OpenAIConfig = Settings['openai'];

export interface ObjectStorageConfig extends Omit<ObjectStorageSettings, 'endpoint' | 'bucket' | 'accessKeyId' | 'secretAccessKey'> {
  endpoint: string | undefined;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface ServerConfig extends Omit<Settings['server'], 'grpcTlsCert' | 'grpcTlsKey'> {
  /** Set: the gRPC port speaks TLS with this certificate and key (PEM files, absolute). */
  grpcTls?: { cert: string; key: string };
}

/** The settings as the server uses them: paths absolute, domains complete with their secrets. */
/** Uploaded media's home, resolved: `s3` only with object storage configured. */
export type MediaStoreKind = 'local' | 's3';

export interface MediaConfig extends Omit<MediaLimits, 'store'> {
  store: MediaStoreKind;
}

export interface Config extends Omit<Settings, 'server' | 'domains' | 'objectStorage' | 'media'> {
  server: ServerConfig;
  media: MediaConfig;
  /** The default domain first unless the file lists it elsewhere. */
  domains: DomainConfig[];
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

// ---------------------------------------------------------------------------------------------
// Walking the declaration

/** A schema without its optional/default wrappers, with what they said. */
export interface UnwrappedSetting {
  inner: z.ZodType;
  meta: SettingMeta | undefined;
  /** May be absent (no default). */
  optional: boolean;
  /** The default (one computed at load time is computed now: see `defaultText`). */
  default: { value: unknown } | undefined;
}

export function unwrapSetting(schema: z.ZodType): UnwrappedSetting {
  let meta: SettingMeta | undefined;
  let optional = false;
  let dflt: { value: unknown } | undefined;
  let s: z.ZodType = schema;
  for (;;) {
    meta ??= settingRegistry.get(s);
    if (s instanceof z.ZodOptional) {
      optional = true;
      s = s.unwrap() as z.ZodType;
    } else if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault) {
      // A prefault ({}) on a section: its keys' own defaults fill it.
      if (s instanceof z.ZodDefault) dflt ??= { value: s._zod.def.defaultValue };
      s = s._zod.def.innerType as z.ZodType;
    } else {
      return { inner: s, meta, optional: optional && dflt === undefined, default: dflt };
    }
  }
}

/** A setting that is not a section: a value a file gives. */
export interface SettingLeaf extends UnwrappedSetting {
  /** Keys from the root; `[]` stands for "every entry of this list". */
  path: string[];
  /** The enclosing optional sections (outermost first), absent from a file unless written. */
  optionalSections: Array<{ path: string[]; meta: SettingMeta | undefined }>;
}

let allLeaves: readonly SettingLeaf[] | undefined;

/** Every setting of `schema`, in declaration order, lists of sections included (path `[]`). */
export function settingLeaves(): readonly SettingLeaf[];
export function settingLeaves(schema: z.ZodType): SettingLeaf[];
export function settingLeaves(schema?: z.ZodType): readonly SettingLeaf[] {
  if (schema === undefined) return (allLeaves ??= settingLeaves(settingsSchema));
  const out: SettingLeaf[] = [];
  const visit = (s: z.ZodType, at: string[], sections: SettingLeaf['optionalSections']): void => {
    const u = unwrapSetting(s);
    if (u.inner instanceof z.ZodObject) {
      const inner = u.optional && at.length > 0 ? [...sections, { path: at, meta: u.meta }] : sections;
      for (const [key, child] of Object.entries(u.inner.shape as Record<string, z.ZodType>)) visit(child, [...at, key], inner);
    } else if (u.inner instanceof z.ZodArray && u.inner.element instanceof z.ZodObject) {
      visit(u.inner.element as z.ZodType, [...at, '[]'], sections);
    } else {
      out.push({ ...u, path: at, optionalSections: sections });
    }
  };
  visit(schema, [], []);
  return out;
}

/** `server.port`, `domains[].limits.shortMaxSeconds`. */
export function settingKey(at: readonly string[]): string {
  return at.map((k, i) => (k === '[]' ? '[]' : i === 0 ? k : `.${k}`)).join('');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The object holding `at`'s last key, created along the way if `create`; undefined if not an object. */
function parentOf(root: unknown, at: readonly string[], create: boolean): Record<string, unknown> | undefined {
  let node = root;
  for (const key of at.slice(0, -1)) {
    if (!isPlainObject(node)) return undefined;
    if (node[key] === undefined && create) node[key] = {};
    node = node[key];
  }
  return isPlainObject(node) ? node : undefined;
}

/** Resolves every path setting present in `tree` (a file's or the loaded settings) against `base`. */
function resolvePaths(tree: unknown, base: string): void {
  for (const leaf of settingLeaves()) {
    if (!leaf.meta?.path || leaf.path.includes('[]')) continue;
    const parent = parentOf(tree, leaf.path, false);
    const key = leaf.path[leaf.path.length - 1];
    const value = parent?.[key];
    if (typeof value === 'string' && value !== '') parent![key] = path.resolve(base, value);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

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

function parseSettings(raw: unknown, where: string): Settings {
  const parsed = settingsSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, where));
  return parsed.data;
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
  const explicit = nonEmpty(env[CONFIG_FILE_ENV]);
  if (explicit !== undefined) {
    const file = path.resolve(cwd, explicit);
    if (!(await exists(file))) throw new ConfigError(`config error: ${CONFIG_FILE_ENV}: file not found: ${file}`);
    return file;
  }
  for (const name of CONFIG_FILE_NAMES) {
    const file = path.join(cwd, name);
    if (await exists(file)) return file;
  }
  return null;
}

/** The file as written (not yet validated); an empty YAML file is "no settings". */
async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config error: cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return (file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text)) ?? {};
  } catch (err) {
    const kind = file.endsWith('.json') ? 'JSON' : 'YAML';
    throw new ConfigError(`config error: ${file} is not valid ${kind}: ${(err as Error).message}`);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  // Compose files often pass unset variables as empty strings: those mean "not set".
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** An environment variable's text as the value its setting takes, or a ConfigError naming it. */
function envValue(name: string, raw: string, leaf: SettingLeaf): unknown {
  const { inner } = leaf;
  const fail = (expected: string, shown: string = raw): never => {
    throw new ConfigError(`config error: ${name}: ${expected}${leaf.meta?.secret ? '' : `, got "${shown}"`}`);
  };
  if (inner instanceof z.ZodNumber && inner.isInt) {
    const value = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(value) || !inner.safeParse(value).success) {
      fail(`expected an integer from ${inner.minValue} to ${inner.maxValue}`);
    }
    return value;
  }
  if (inner instanceof z.ZodBoolean) {
    const word = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(word)) return true;
    if (['0', 'false', 'no', 'off'].includes(word)) return false;
    return fail('expected true or false', word);
  }
  if (inner instanceof z.ZodEnum) {
    const word = raw.trim().toLowerCase();
    const options = inner.options as readonly string[];
    if (!options.includes(word)) fail(`expected one of ${options.join(', ')}`, word);
    return word;
  }
  const value = inner instanceof z.ZodNumber ? Number(raw) : raw;
  const parsed = inner.safeParse(value);
  if (!parsed.success) fail(parsed.error.issues[0].message.replace(/^Invalid input: /, ''));
  return value;
}

/**
 * Sets, in `tree` (a file's settings, as written), every setting whose SORI_* variable is set.
 * An optional section the file does not have is created only by its `createdBy` key's variable.
 */
function applyEnv(tree: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const given = new Map<string, { leaf: SettingLeaf; value: unknown }>();
  for (const leaf of settingLeaves()) {
    const name = leaf.meta?.env;
    if (name === undefined || leaf.path.includes('[]')) continue;
    const raw = nonEmpty(env[name]);
    if (raw !== undefined) given.set(leaf.path.join('.'), { leaf, value: envValue(name, raw, leaf) });
  }
  for (const { leaf, value } of given.values()) {
    const absent = leaf.optionalSections.find((s) => !isPlainObject(parentOf(tree, [...s.path, ''], false)));
    const createdBy = absent?.meta?.createdBy;
    if (absent !== undefined && (createdBy === undefined || !given.has([...absent.path, createdBy].join('.')))) continue;
    const parent = parentOf(tree, leaf.path, true);
    if (parent !== undefined) parent[leaf.path[leaf.path.length - 1]] = value;
  }
}

// ---------------------------------------------------------------------------------------------
// From settings to Config

function grpcTls(cert: string | undefined, key: string | undefined): { cert: string; key: string } | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new ConfigError('config error: gRPC TLS needs both a certificate and a key (SORI_GRPC_TLS_CERT and SORI_GRPC_TLS_KEY)');
  }
  return { cert, key };
}

/** Present once a bucket is named (file or SORI_S3_BUCKET); then credentials are required. */
function objectStorageConfig(s: ObjectStorageSettings | undefined): ObjectStorageConfig | undefined {
  if (s === undefined) return undefined;
  const { endpoint, bucket, accessKeyId, secretAccessKey, ...rest } = s;
  if (bucket === undefined) throw new ConfigError('config error: objectStorage.bucket: required when objectStorage is set');
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new ConfigError(
      'config error: objectStorage: accessKeyId and secretAccessKey are required (or SORI_S3_ACCESS_KEY_ID / SORI_S3_SECRET_ACCESS_KEY)',
    );
  }
  return { endpoint, bucket, accessKeyId, secretAccessKey, ...rest };
}

/** A single PUT holds at most 5 GiB (S3's limit), and an upload is one PUT of a file on disk. */
const MAX_S3_UPLOAD_BYTES = 5 * 1024 * MiB;

/**
 * `media.store`, resolved: cluster mode (PostgreSQL and object storage) keeps uploads in the
 * bucket unless told otherwise; `s3` without a bucket cannot work.
 */
function mediaConfig(settings: Settings, objectStorage: ObjectStorageConfig | undefined): MediaConfig {
  const { store, ...rest } = settings.media;
  const resolved = store ?? (settings.database.url !== undefined && objectStorage !== undefined ? 's3' : 'local');
  if (resolved === 's3' && objectStorage === undefined) {
    throw new ConfigError('config error: media.store: s3 needs objectStorage (a bucket and credentials, or SORI_S3_BUCKET and SORI_S3_ACCESS_KEY_ID / SORI_S3_SECRET_ACCESS_KEY)');
  }
  if (resolved === 's3' && settings.longform.maxBytes > MAX_S3_UPLOAD_BYTES) {
    throw new ConfigError(`config error: longform.maxBytes: at most ${MAX_S3_UPLOAD_BYTES} with media.store: s3 (one PUT per upload)`);
  }
  return { ...rest, store: resolved };
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

function toDomain(d: DomainSettings, secret: string, previousSecrets: string[]): DomainConfig {
  const domain: DomainConfig = { name: d.name, secret, defaultLanguage: d.defaultLanguage, limits: { ...d.limits } };
  if (previousSecrets.length > 0) domain.previousSecrets = previousSecrets;
  if (d.boostings !== undefined && d.boostings.length > 0) domain.boostings = d.boostings;
  return domain;
}

async function domainsConfig(
  domains: DomainSettings[],
  env: NodeJS.ProcessEnv,
  dataDir: string,
  announce: (line: string) => void,
): Promise<DomainConfig[]> {
  const entries = domains.some((d) => d.name === DEFAULT_DOMAIN) ? domains : [domainSchema.parse({ name: DEFAULT_DOMAIN }), ...domains];
  const out: DomainConfig[] = [];
  for (const d of entries) {
    let secret = d.secret;
    let previous = d.previousSecrets;
    if (d.name === DEFAULT_DOMAIN) {
      secret = nonEmpty(env[API_KEY_ENV]) ?? secret ?? (await persistedSecret(dataDir, announce));
      const previousFromEnv = nonEmpty(env[PREVIOUS_API_KEY_ENV]);
      if (previousFromEnv !== undefined) previous = [previousFromEnv];
    }
    // The schema guarantees a secret on every other domain.
    out.push(toDomain(d, secret as string, previous));
  }
  // Every secret names one domain: current and previous ones alike, within a domain and across.
  const owners = new Map<string, string>();
  for (const d of out) {
    for (const [i, secret] of [d.secret, ...(d.previousSecrets ?? [])].entries()) {
      const which = i === 0 ? `"${d.name}"` : `"${d.name}" (previousSecrets[${i - 1}])`;
      const other = owners.get(secret);
      // Never echo the secret itself: the message may end up in a log.
      if (other !== undefined) {
        throw new ConfigError(`config error: domains: ${other} and ${which} have the same secret; secrets must be unique`);
      }
      owners.set(secret, which);
    }
  }
  return out;
}

export async function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  opts: LoadConfigOptions = {},
): Promise<Config> {
  const announce = opts.announce ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const { config, domains } = await readSettings(env, opts.cwd ?? process.cwd());
  return {
    ...config,
    // Last: it may generate and save the default domain's secret.
    domains: await domainsConfig(domains, env, config.dataDir, announce),
  };
}

/** The settings of a process that recognises but never serves (`sori transcribe`): no secrets, nothing written. */
export interface LocalSettings extends Omit<Config, 'domains'> {
  /** The default domain's language: what a long-form request without `language` gets. */
  defaultLanguage: Language;
}

/** As loadConfig reads them (file, environment, defaults), without the domains and their secrets. */
export async function loadLocalSettings(env: NodeJS.ProcessEnv = process.env, opts: Pick<LoadConfigOptions, 'cwd'> = {}): Promise<LocalSettings> {
  const { config, domains } = await readSettings(env, opts.cwd ?? process.cwd());
  return { ...config, defaultLanguage: domains.find((d) => d.name === DEFAULT_DOMAIN)?.defaultLanguage ?? domainSchema.parse({ name: DEFAULT_DOMAIN }).defaultLanguage };
}

async function readSettings(env: NodeJS.ProcessEnv, cwd: string): Promise<{ config: Omit<Config, 'domains'>; domains: DomainSettings[] }> {
  const configFile = await findConfigFile(env, cwd);
  const tree = configFile === null ? {} : await readConfigFile(configFile);
  // Paths in the file are relative to the file, so a config keeps working wherever it is mounted.
  if (configFile !== null) {
    resolvePaths(tree, path.dirname(configFile));
    // The file on its own: its mistakes are reported even where the environment overrides them.
    parseSettings(tree, configFile);
  }
  applyEnv(tree as Record<string, unknown>, env);
  const settings = parseSettings(tree, configFile === null ? 'the environment' : `${configFile} with the environment`);
  // Paths from the environment and the defaults are relative to the working directory.
  resolvePaths(settings, cwd);

  const { grpcTlsCert, grpcTlsKey, ...server } = settings.server;
  const tls = grpcTls(grpcTlsCert, grpcTlsKey);
  const objectStorage = objectStorageConfig(settings.objectStorage);
  try {
    validateAllowList(settings.network.allowList);
  } catch (err) {
    throw new ConfigError(`config error: network.allowList: ${(err as Error).message}`);
  }
  try {
    validateTrustedProxies(server.trustProxy);
  } catch (err) {
    throw new ConfigError(`config error: server.trustProxy: ${(err as Error).message}`);
  }
  const media = mediaConfig(settings, objectStorage);
  if (settings.jobs.workers === 0 && settings.database.url === undefined) {
    throw new ConfigError('config error: jobs.workers: 0 needs database.url (PostgreSQL): with SQLite no other node would run this node\'s jobs');
  }
  const { domains, ...rest } = settings;
  return {
    config: { ...rest, media, server: tls === undefined ? server : { ...server, grpcTls: tls }, objectStorage, configFile },
    domains,
  };
}
